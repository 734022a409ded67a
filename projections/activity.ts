// What the console charts and the store page show, folded from the events like every read model:
// per store and minute the events it recorded, per hour and kind the issuances, loads and pays
// (as the stores reported them), each batch head office stored (the store's sync history, with how
// far behind the store was and how old its newest event), and the terminals each store has used.
import type Database from 'better-sqlite3';
import type { ActivityTotals } from '../contracts/index.js';
import { CHAIN_HEAD_RECORD_TYPE, type HostEvent, originOfStream } from '../eventstore/index.js';
import type { Projection } from './projection.js';
import { prepared } from './statements.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS activity_minutes (
  store_id TEXT NOT NULL,
  minute_ms INTEGER NOT NULL,
  events INTEGER NOT NULL,
  PRIMARY KEY (store_id, minute_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_hours (
  store_id TEXT NOT NULL,
  hour_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  count INTEGER NOT NULL,
  total INTEGER NOT NULL,
  PRIMARY KEY (store_id, hour_ms, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_batches (
  store_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  events INTEGER NOT NULL,
  local_head_seq INTEGER NOT NULL,
  -- How long before head office stored it the batch's newest event happened at the store.
  lag_ms INTEGER NOT NULL,
  PRIMARY KEY (store_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS activity_pending (
  store_id TEXT PRIMARY KEY,
  events INTEGER NOT NULL,
  newest_occurred_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_terminals (
  store_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  events INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  PRIMARY KEY (store_id, terminal_id)
) WITHOUT ROWID;`;

/** The movements the charts count, by the event that reports them. */
const COUNTED: Partial<Record<HostEvent['type'], string>> = {
  CardIssued: 'issuance',
  PurseLoaded: 'load',
  PursePaid: 'pay',
  PurseOperationDeclined: 'decline',
};

export const activityProjection: Projection = {
  name: 'activity',
  version: 1,
  schema: SCHEMA,
  tables: ['activity_minutes', 'activity_hours', 'activity_batches', 'activity_pending', 'activity_terminals'],
  apply(db: Database.Database, event: HostEvent) {
    const storeId = originOfStream(event.streamId);
    if (storeId === undefined || storeId === 'hq') return;
    if (event.type === CHAIN_HEAD_RECORD_TYPE) {
      const pending = prepared(db, 'SELECT events, newest_occurred_at_ms FROM activity_pending WHERE store_id = ?').get(storeId) as
        | { events: number; newest_occurred_at_ms: number }
        | undefined;
      const seq = event.data.head?.storeSeq ?? 0;
      prepared(
        db,
        `INSERT OR REPLACE INTO activity_batches (store_id, seq, received_at_ms, events, local_head_seq, lag_ms) VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(
        storeId,
        seq,
        event.data.receivedAtMs,
        pending?.events ?? 0,
        Math.max(event.data.localHeadSeq, seq),
        pending ? Math.max(0, event.data.receivedAtMs - pending.newest_occurred_at_ms) : 0,
      );
      prepared(db, 'DELETE FROM activity_pending WHERE store_id = ?').run(storeId);
      return;
    }
    const at = event.envelope.occurredAtMs;
    prepared(
      db,
      `INSERT INTO activity_pending (store_id, events, newest_occurred_at_ms) VALUES (?, 1, ?)
       ON CONFLICT (store_id) DO UPDATE SET events = events + 1, newest_occurred_at_ms = MAX(newest_occurred_at_ms, excluded.newest_occurred_at_ms)`,
    ).run(storeId, at);
    prepared(
      db,
      `INSERT INTO activity_minutes (store_id, minute_ms, events) VALUES (?, ?, 1)
       ON CONFLICT (store_id, minute_ms) DO UPDATE SET events = events + 1`,
    ).run(storeId, at - (at % MINUTE_MS));
    const kind = COUNTED[event.type];
    if (kind) {
      const amount = 'amount' in event.data ? Number(event.data.amount) : 0;
      prepared(
        db,
        `INSERT INTO activity_hours (store_id, hour_ms, kind, count, total) VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (store_id, hour_ms, kind) DO UPDATE SET count = count + 1, total = total + excluded.total`,
      ).run(storeId, at - (at % HOUR_MS), kind, amount);
    }
    const terminalId = 'terminalId' in event.data ? event.data.terminalId : '';
    if (terminalId) {
      prepared(
        db,
        `INSERT INTO activity_terminals (store_id, terminal_id, events, last_seen_ms) VALUES (?, ?, 1, ?)
         ON CONFLICT (store_id, terminal_id) DO UPDATE SET events = events + 1, last_seen_ms = MAX(last_seen_ms, excluded.last_seen_ms)`,
      ).run(storeId, terminalId, at);
    }
  },
};

const iso = (ms: number) => new Date(ms).toISOString();

/** Reads of the activity read model, shaped for the console's routes. */
export class ActivityReader {
  constructor(private readonly db: Database.Database) {}

  /** Issuances, loads, pays and declines the stores reported as happening in [fromMs, toMs). */
  totals(fromMs: number, toMs: number, storeId?: string): ActivityTotals {
    const rows = prepared(
      this.db,
      `SELECT kind, SUM(count) AS count, SUM(total) AS total FROM activity_hours
       WHERE hour_ms >= ? AND hour_ms < ? AND (? IS NULL OR store_id = ?) GROUP BY kind`,
    ).all(fromMs - (fromMs % HOUR_MS), toMs, storeId ?? null, storeId ?? null) as Array<{ kind: string; count: number; total: number }>;
    const of = (kind: string) => rows.find((row) => row.kind === kind) ?? { count: 0, total: 0 };
    return {
      issuances: { count: of('issuance').count },
      loads: { count: of('load').count, total: of('load').total },
      pays: { count: of('pay').count, total: of('pay').total },
      declines: { count: of('decline').count },
    };
  }

  /** Events per minute per store since `fromMs`. */
  eventsPerMinute(fromMs: number): Array<{ storeId: string; minute: string; events: number }> {
    return (
      prepared(this.db, 'SELECT * FROM activity_minutes WHERE minute_ms >= ? ORDER BY minute_ms, store_id').all(fromMs) as Array<{
        store_id: string;
        minute_ms: number;
        events: number;
      }>
    ).map((row) => ({ storeId: row.store_id, minute: iso(row.minute_ms), events: row.events }));
  }

  /** Loads, pays, issuances and declines per hour (every store) since `fromMs`. */
  perHour(fromMs: number): Array<{ hour: string; kind: string; count: number; total: number }> {
    return (
      prepared(
        this.db,
        'SELECT hour_ms, kind, SUM(count) AS count, SUM(total) AS total FROM activity_hours WHERE hour_ms >= ? GROUP BY hour_ms, kind ORDER BY hour_ms',
      ).all(fromMs - (fromMs % HOUR_MS)) as Array<{ hour_ms: number; kind: string; count: number; total: number }>
    ).map((row) => ({ hour: iso(row.hour_ms), kind: row.kind, count: row.count, total: row.total }));
  }

  /** The store's batches as head office stored them, newest first. */
  batches(storeId: string, limit: number): Array<{ seq: number; receivedAt: string; events: number; eventsBehind: number; lagMs: number }> {
    return (
      prepared(this.db, 'SELECT * FROM activity_batches WHERE store_id = ? ORDER BY seq DESC LIMIT ?').all(storeId, limit) as Array<{
        seq: number;
        received_at_ms: number;
        events: number;
        local_head_seq: number;
        lag_ms: number;
      }>
    ).map((row) => ({
      seq: row.seq,
      receivedAt: iso(row.received_at_ms),
      events: row.events,
      eventsBehind: Math.max(0, row.local_head_seq - row.seq),
      lagMs: row.lag_ms,
    }));
  }

  terminals(storeId: string): Array<{ terminalId: string; events: number; lastSeenAt: string }> {
    return (
      prepared(this.db, 'SELECT * FROM activity_terminals WHERE store_id = ? ORDER BY terminal_id').all(storeId) as Array<{
        terminal_id: string;
        events: number;
        last_seen_ms: number;
      }>
    ).map((row) => ({ terminalId: row.terminal_id, events: row.events, lastSeenAt: iso(row.last_seen_ms) }));
  }
}
