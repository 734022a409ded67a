// The purse alerts head office raises, in one table with one numbering: divergences of a card's
// history (the purse ledger) and loads stuck past their deadline (load reconciliation).
import type Database from 'better-sqlite3';
import type { AlertSeverity, PurseAlertView } from '../contracts/index.js';
import { alertSeverity, SEVERITY_RANK, type AlertKind } from '../domain/index.js';
import { prepared } from './statements.js';

export const PURSE_ALERTS_SCHEMA = `
CREATE TABLE IF NOT EXISTS purse_alerts (
  alert_id INTEGER PRIMARY KEY AUTOINCREMENT,
  card_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  severity TEXT NOT NULL,
  message TEXT NOT NULL,
  event_id TEXT NOT NULL,
  store_id TEXT NOT NULL,
  store_seq INTEGER NOT NULL,
  raised_at_ms INTEGER NOT NULL,
  -- The load an overdue-load alert is about.
  authorization_id TEXT,
  -- A gap whose movements all arrived later, or a load that moved on, or an operator's AlertResolved.
  resolved INTEGER NOT NULL DEFAULT 0,
  -- An operator's resolution (AlertResolved): the note, who, when.
  resolution_note TEXT,
  resolved_by TEXT,
  resolved_at_ms INTEGER
);
CREATE INDEX IF NOT EXISTS purse_alerts_by_card ON purse_alerts (card_id, alert_id);
`;

/** The event that raised an alert: its id and place in its origin's chain, and when it happened. */
export interface RaisingEvent {
  eventId: string;
  storeId: string;
  storeSeq: number;
  occurredAtMs: number;
}

export function insertAlert(
  db: Database.Database,
  alert: { cardId: string; kind: AlertKind; message: string; authorizationId?: string; resolved?: boolean },
  by: RaisingEvent,
): number {
  const result = prepared(
    db,
    `INSERT INTO purse_alerts (card_id, kind, severity, message, event_id, store_id, store_seq, raised_at_ms, authorization_id, resolved)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(
    alert.cardId,
    alert.kind,
    alertSeverity(alert.kind),
    alert.message,
    by.eventId,
    by.storeId,
    by.storeSeq,
    by.occurredAtMs,
    alert.authorizationId ?? null,
    alert.resolved ? 1 : 0,
  );
  return Number(result.lastInsertRowid);
}

export function resolveAlert(db: Database.Database, alertId: number): void {
  prepared(db, 'UPDATE purse_alerts SET resolved = 1 WHERE alert_id = ?').run(alertId);
}

/** An operator closes an alert with a note (AlertResolved); only the alert its raising event names. */
export function resolveAlertWithNote(
  db: Database.Database,
  resolution: { alertId: number; raisedByEventId: string; note: string; resolvedBy: string; atMs: number },
): void {
  prepared(
    db,
    'UPDATE purse_alerts SET resolved = 1, resolution_note = ?, resolved_by = ?, resolved_at_ms = ? WHERE alert_id = ? AND event_id = ?',
  ).run(resolution.note, resolution.resolvedBy, resolution.atMs, resolution.alertId, resolution.raisedByEventId);
}

export interface AlertFilter {
  cardId?: string;
  afterId?: number;
  limit?: number;
  severity?: AlertSeverity;
  /** "id" (default): oldest first, for paging with afterId; "severity": open ones first, most severe first. */
  order?: 'id' | 'severity';
}

const SEVERITY_ORDER = `CASE severity ${Object.entries(SEVERITY_RANK)
  .map(([severity, rank]) => `WHEN '${severity}' THEN ${rank}`)
  .join(' ')} ELSE 0 END`;

interface AlertRow {
  alert_id: number;
  card_id: string;
  kind: string;
  severity: AlertSeverity;
  message: string;
  event_id: string;
  store_id: string;
  store_seq: number;
  raised_at_ms: number;
  authorization_id: string | null;
  resolved: number;
  resolution_note: string | null;
  resolved_by: string | null;
  resolved_at_ms: number | null;
}

export function queryAlerts(db: Database.Database, filter: AlertFilter = {}): PurseAlertView[] {
  const order = filter.order === 'severity' ? `resolved, ${SEVERITY_ORDER} DESC, alert_id` : 'alert_id';
  const rows = prepared(
    db,
    `SELECT * FROM purse_alerts WHERE (@cardId IS NULL OR card_id = @cardId) AND (@severity IS NULL OR severity = @severity) AND alert_id > @after
     ORDER BY ${order} LIMIT @limit`,
  ).all({
    cardId: filter.cardId ?? null,
    severity: filter.severity ?? null,
    after: filter.afterId ?? 0,
    limit: filter.limit ?? 100,
  }) as AlertRow[];
  return rows.map((r) => ({
    alertId: r.alert_id,
    cardId: r.card_id,
    kind: r.kind,
    severity: r.severity,
    message: r.message,
    eventId: r.event_id,
    storeId: r.store_id,
    storeSeq: r.store_seq,
    raisedAt: new Date(r.raised_at_ms).toISOString(),
    authorizationId: r.authorization_id,
    resolved: r.resolved === 1,
    resolution:
      r.resolution_note === null
        ? null
        : { note: r.resolution_note, by: r.resolved_by ?? '', at: new Date(r.resolved_at_ms ?? 0).toISOString() },
  }));
}

/** Open (unresolved) alerts counted by kind and severity: the console's overview and the metrics. */
export function openAlertCounts(db: Database.Database): Array<{ kind: string; severity: AlertSeverity; count: number }> {
  return prepared(
    db,
    'SELECT kind, severity, COUNT(*) AS count FROM purse_alerts WHERE resolved = 0 GROUP BY kind, severity ORDER BY kind',
  ).all() as Array<{
    kind: string;
    severity: AlertSeverity;
    count: number;
  }>;
}
