import type Database from 'better-sqlite3';
import type { Projection } from './projection.js';
import { originOfStream } from '../eventstore/index.js';
import { prepared } from './statements.js';

// The API's access log: every ApiAccessRecorded of head office's own chain (a store cannot add to
// it: events of a store's stream are ignored), by time and by subject.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS api_access (
  position INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL,
  hq_seq INTEGER NOT NULL,
  at_ms INTEGER NOT NULL,
  subject TEXT NOT NULL,
  issuer TEXT NOT NULL,
  role TEXT NOT NULL,
  access TEXT NOT NULL,
  method TEXT NOT NULL,
  route TEXT NOT NULL,
  ids TEXT NOT NULL,
  remote_address TEXT NOT NULL,
  request_id TEXT NOT NULL,
  token_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS api_access_at ON api_access (at_ms, position);
CREATE INDEX IF NOT EXISTS api_access_subject ON api_access (subject, at_ms, position);`;

/** The ids of an entry as JSON with sorted keys, so a rebuild writes the same text. */
const idsJson = (ids: Record<string, string>) =>
  JSON.stringify(Object.fromEntries(Object.entries(ids).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

export const accessLogProjection: Projection = {
  name: 'access-log',
  version: 1,
  schema: SCHEMA,
  tables: ['api_access'],
  apply(db: Database.Database, event) {
    if (event.type !== 'ApiAccessRecorded' || originOfStream(event.streamId) !== 'hq') return;
    const data = event.data;
    prepared(
      db,
      `INSERT OR IGNORE INTO api_access (position, event_id, hq_seq, at_ms, subject, issuer, role, access, method, route, ids, remote_address, request_id, token_id)
       VALUES (@position, @eventId, @seq, @at, @subject, @issuer, @role, @access, @method, @route, @ids, @remoteAddress, @requestId, @tokenId)`,
    ).run({
      position: event.position,
      eventId: event.envelope.eventId,
      seq: event.envelope.storeSeq,
      at: event.envelope.occurredAtMs,
      subject: data.subject,
      issuer: data.issuer,
      role: data.role,
      access: data.access,
      method: data.method,
      route: data.route,
      ids: idsJson(data.ids ?? {}),
      remoteAddress: data.remoteAddress,
      requestId: data.requestId,
      tokenId: data.tokenId,
    });
  },
};

export interface AccessLogEntry {
  /** Position in the host event store; page on with `after`. */
  position: string;
  eventId: string;
  /** Sequence of the entry in head office's chain. */
  hqSeq: number;
  at: string;
  subject: string;
  issuer: string;
  role: string;
  access: string;
  method: string;
  route: string;
  ids: Record<string, string>;
  remoteAddress: string;
  requestId: string;
  tokenId: string | null;
}

export interface AccessLogFilter {
  /** From this instant (inclusive), milliseconds since the epoch. */
  fromMs?: number;
  /** Up to this instant (exclusive). */
  toMs?: number;
  subject?: string;
  /** After this position (the previous page's last). */
  after?: bigint;
  limit: number;
}

/** A row of `api_access`: the entry's own words as they are, the rest in column form. */
interface AccessRow extends Pick<AccessLogEntry, 'subject' | 'issuer' | 'role' | 'access' | 'method' | 'route'> {
  position: bigint;
  event_id: string;
  hq_seq: bigint;
  at_ms: bigint;
  ids: string;
  remote_address: string;
  request_id: string;
  token_id: string;
}

export class AccessLogReader {
  constructor(private readonly db: Database.Database) {}

  /** Entries in the order they were recorded. */
  entries(filter: AccessLogFilter): AccessLogEntry[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM api_access
         WHERE position > @after AND at_ms >= @from AND at_ms < @to AND (@subject IS NULL OR subject = @subject)
         ORDER BY position LIMIT @limit`,
      )
      .safeIntegers(true)
      .all({
        after: filter.after ?? -1n,
        from: filter.fromMs ?? 0,
        to: filter.toMs ?? Number.MAX_SAFE_INTEGER,
        subject: filter.subject ?? null,
        limit: filter.limit,
      }) as AccessRow[];
    return rows.map((row) => ({
      position: row.position.toString(),
      eventId: row.event_id,
      hqSeq: Number(row.hq_seq),
      at: new Date(Number(row.at_ms)).toISOString(),
      subject: row.subject,
      issuer: row.issuer,
      role: row.role,
      access: row.access,
      method: row.method,
      route: row.route,
      ids: JSON.parse(row.ids) as Record<string, string>,
      remoteAddress: row.remote_address,
      requestId: row.request_id,
      tokenId: row.token_id || null,
    }));
  }
}
