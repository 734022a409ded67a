// Head office's answers that its console shows: one definition for the routes and read models that
// build them and for the page that reads them. Types only, so the console's browser bundle takes
// nothing else from contracts/.

export type AlertSeverity = 'critical' | 'high' | 'warning';

export type StoreState = 'caught-up' | 'behind' | 'offline' | 'refused' | 'never-seen';

export interface OverviewStore {
  storeId: string;
  name: string | null;
  /** offline: head office has not heard from it for a while; behind: it said it holds events head office does not have yet. */
  state: StoreState;
  online: boolean;
  lastHeardAt: string | null;
  /** How long head office has not heard from it, when offline. */
  silentForMs: number | null;
  lastSeqReceived: number;
  localHeadSeq: number;
  eventsBehind: number;
  lastBatchAt: string | null;
  /** The blacklist version head office last sent it, and when. */
  blacklistVersion: number | null;
  blacklistSyncedAt: string | null;
  refusal: { range: string; reason: string } | null;
}

/** Issuances, loads, pays and declines the stores reported in a span of time. */
export interface ActivityTotals {
  issuances: { count: number };
  loads: { count: number; total: number };
  pays: { count: number; total: number };
  declines: { count: number };
}

export interface Overview {
  at: string;
  offlineAfterMs: number;
  /** Head office's own blacklist version: a store holding less has not had the latest change yet. */
  blacklistVersion: number;
  stores: OverviewStore[];
  today: { businessDay: string; from: string } & ActivityTotals;
  openLoads: { count: number; total: number };
  alerts: { open: number; bySeverity: Record<string, number>; byKind: Record<string, number> };
}

export interface PurseAlertView {
  alertId: number;
  cardId: string;
  kind: string;
  /** critical (an account debited and the card not credited), high (a forged, replayed or unmatched movement), warning. */
  severity: AlertSeverity;
  message: string;
  eventId: string;
  storeId: string;
  storeSeq: number;
  /** When the event that raised it happened. */
  raisedAt: string;
  /** The load, for an alert about a load. */
  authorizationId: string | null;
  /** A counter gap whose missing movements all arrived later (a store that was offline), or a stuck load that moved on. */
  resolved: boolean;
  /** An operator's note closing it, when it was closed that way. */
  resolution: { note: string; by: string; at: string } | null;
}

/** One event of a card's history as the console shows it to every role: no bank account, no personal data, no MACs. */
export interface TimelineEntry {
  type: string;
  occurredAt: string;
  /** The origin whose log holds it: a store id, or "hq". */
  origin: string;
  originSeq: number;
  storeId: string | null;
  terminalId: string | null;
  amount: number | null;
  balanceAfter: number | null;
  counter: number | null;
  reason: string | null;
  operation: string | null;
  recovered: boolean;
  authorizationId: string | null;
}
