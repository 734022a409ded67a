// Load reconciliation inside the purse ledger: every load's track (authorised → account debited →
// credit started → card credited → confirmed, or reversed) in purse_loads, and the alert a
// LoadOverdue raises in purse_alerts, resolved once the load moves on. The rules are the domain's
// (domain/load-reconciliation.ts); head office's load watch reads the open tracks from here.
import type Database from 'better-sqlite3';
import {
  advanceLoad,
  learntAt,
  OPEN_LOAD_STATES,
  loadAlertOpen,
  loadEventOf,
  loadOverdueAlert,
  type DebitFacts,
  type LoadParties,
  type LoadState,
  type LoadTrack,
} from '../domain/index.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream, type HostEvent } from '../eventstore/index.js';
import { insertAlert, resolveAlert } from './purse-alerts.js';
import { prepared } from './statements.js';

export const LOAD_TRACKING_SCHEMA = `
CREATE TABLE IF NOT EXISTS purse_loads (
  authorization_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  bank_id TEXT NOT NULL,
  amount INTEGER NOT NULL,
  store_id TEXT NOT NULL,
  terminal_id TEXT NOT NULL,
  deadline_ms INTEGER,
  authorised INTEGER NOT NULL,
  debited INTEGER NOT NULL,
  credit_started INTEGER NOT NULL,
  credited INTEGER NOT NULL,
  completed INTEGER NOT NULL,
  reversed INTEGER NOT NULL,
  reversal_reason TEXT,
  state TEXT NOT NULL,
  state_origin TEXT NOT NULL,
  -- When head office learnt the load was in its state (the chain head after the event); NULL until then.
  state_since_ms INTEGER,
  alerted_state TEXT,
  -- The alert raised for alerted_state.
  alert_id INTEGER
);
CREATE INDEX IF NOT EXISTS purse_loads_by_state ON purse_loads (state, authorization_id);
CREATE INDEX IF NOT EXISTS purse_loads_unlearnt ON purse_loads (state_origin) WHERE state_since_ms IS NULL;
`;

interface LoadRow {
  authorization_id: string;
  card_id: string;
  bank_id: string;
  amount: number;
  store_id: string;
  terminal_id: string;
  deadline_ms: number | null;
  authorised: number;
  debited: number;
  credit_started: number;
  credited: number;
  completed: number;
  reversed: number;
  reversal_reason: string | null;
  state: LoadState;
  state_origin: string;
  state_since_ms: number | null;
  alerted_state: LoadState | null;
  alert_id: number | null;
}

const partiesOf = (row: LoadRow): LoadParties => ({
  authorizationId: row.authorization_id,
  cardId: row.card_id,
  bankId: row.bank_id,
  amount: row.amount,
  storeId: row.store_id,
  terminalId: row.terminal_id,
});

const trackOf = (row: LoadRow): LoadTrack => ({
  ...partiesOf(row),
  deadlineMs: row.deadline_ms ?? undefined,
  authorised: row.authorised === 1,
  debited: row.debited === 1,
  creditStarted: row.credit_started === 1,
  credited: row.credited === 1,
  completed: row.completed === 1,
  reversed: row.reversed === 1,
  reversalReason: row.reversal_reason ?? undefined,
  state: row.state,
  stateOrigin: row.state_origin,
  stateSinceMs: row.state_since_ms ?? undefined,
  alertedState: row.alerted_state ?? undefined,
});

function saveTrack(db: Database.Database, track: LoadTrack, alertId: number | null): void {
  prepared(
    db,
    `INSERT OR REPLACE INTO purse_loads (authorization_id, card_id, bank_id, amount, store_id, terminal_id, deadline_ms, authorised, debited, credit_started,
       credited, completed, reversed, reversal_reason, state, state_origin, state_since_ms, alerted_state, alert_id)
     VALUES (@authorizationId, @cardId, @bankId, @amount, @storeId, @terminalId, @deadlineMs, @authorised, @debited, @creditStarted,
       @credited, @completed, @reversed, @reversalReason, @state, @stateOrigin, @stateSinceMs, @alertedState, @alertId)`,
  ).run({
    ...track,
    deadlineMs: track.deadlineMs ?? null,
    authorised: Number(track.authorised),
    debited: Number(track.debited),
    creditStarted: Number(track.creditStarted),
    credited: Number(track.credited),
    completed: Number(track.completed),
    reversed: Number(track.reversed),
    reversalReason: track.reversalReason ?? null,
    stateSinceMs: track.stateSinceMs ?? null,
    alertedState: track.alertedState ?? null,
    alertId,
  });
}

const rowOf = (db: Database.Database, authorizationId: string) =>
  prepared(db, 'SELECT * FROM purse_loads WHERE authorization_id = ?').get(authorizationId) as LoadRow | undefined;

/**
 * Follows a load event, or stamps when head office learnt of the loads a chain head covers.
 * `creditMacValid`: for a PurseLoaded, the card MAC over the credit verifies.
 */
export function trackLoads(db: Database.Database, event: HostEvent, creditMacValid: boolean): void {
  if (event.type === CHAIN_HEAD_RECORD_TYPE) {
    const origin = originOfStream(event.streamId);
    if (origin === undefined) return;
    const unlearnt = prepared(db, 'SELECT * FROM purse_loads WHERE state_origin = ? AND state_since_ms IS NULL').all(origin) as LoadRow[];
    for (const row of unlearnt) saveTrack(db, learntAt(trackOf(row), origin, event.data.receivedAtMs), row.alert_id);
    return;
  }
  const origin = event.envelope.storeId;
  const loadEvent = loadEventOf(event, origin, creditMacValid);
  if (!loadEvent) return;
  const row = rowOf(db, loadEvent.data.authorizationId);
  const before = row && trackOf(row);
  const after = advanceLoad(before, loadEvent, origin);
  let alertId = row?.alert_id ?? null;
  if (loadEvent.type === 'LoadOverdue') {
    const alert = loadOverdueAlert(loadEvent.data);
    // An alert raised for a state the load has left already is kept in the history, resolved.
    alertId = insertAlert(
      db,
      {
        cardId: loadEvent.data.cardId,
        kind: alert.kind,
        message: alert.message,
        authorizationId: loadEvent.data.authorizationId,
        resolved: !loadAlertOpen(after),
      },
      { eventId: event.envelope.eventId, storeId: origin, storeSeq: event.envelope.storeSeq, occurredAtMs: event.envelope.occurredAtMs },
    );
  } else if (before && loadAlertOpen(before) && !loadAlertOpen(after) && alertId !== null) {
    resolveAlert(db, alertId);
  }
  saveTrack(db, after, alertId);
}

/** What the ledger checks a load against: the account debit head office made for its authorisation. */
export function debitFactsOf(db: Database.Database, authorizationId: string): DebitFacts | undefined {
  const row = rowOf(db, authorizationId);
  return row && row.debited === 1 ? { cardId: row.card_id, amount: row.amount, reversed: row.reversed === 1 } : undefined;
}

export interface LoadView extends LoadParties {
  state: LoadState;
  /** When head office learnt the load was in this state. */
  since: string | null;
  /** No store credits the card with this authorisation after this. */
  deadline: string | null;
  reversalReason: string | null;
  /** An overdue alert is open for the load's state. */
  overdue: boolean;
}

const viewOf = (row: LoadRow): LoadView => ({
  ...partiesOf(row),
  state: row.state,
  since: row.state_since_ms === null ? null : new Date(row.state_since_ms).toISOString(),
  deadline: row.deadline_ms === null ? null : new Date(row.deadline_ms).toISOString(),
  reversalReason: row.reversal_reason,
  overdue: row.alerted_state !== null && row.alerted_state === row.state,
});

/** Reads of the load tracks: by state for the API, the open ones for head office's load watch. */
export class LoadTracks {
  constructor(private readonly db: Database.Database) {}

  /** Loads in one state (or all), by authorisation id, paged with `after`. */
  list(filter: { state?: LoadState; overdue?: boolean; after?: string; limit?: number } = {}): LoadView[] {
    const rows = prepared(
      this.db,
      `SELECT * FROM purse_loads WHERE (@state IS NULL OR state = @state) AND (@overdue IS NULL OR (alerted_state IS state) = @overdue)
       AND authorization_id > @after ORDER BY authorization_id LIMIT @limit`,
    ).all({
      state: filter.state ?? null,
      overdue: filter.overdue === undefined ? null : Number(filter.overdue),
      after: filter.after ?? '',
      limit: filter.limit ?? 100,
    }) as LoadRow[];
    return rows.map(viewOf);
  }

  /** Every load not yet confirmed or reversed. */
  open(): LoadTrack[] {
    const rows = prepared(
      this.db,
      `SELECT * FROM purse_loads WHERE state IN (${OPEN_LOAD_STATES.map((state) => `'${state}'`).join(', ')})`,
    ).all() as LoadRow[];
    return rows.map(trackOf);
  }
}
