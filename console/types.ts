// The API's answers as the console reads them (head office's OpenAPI document at /docs describes them).

export type StoreState = 'caught-up' | 'behind' | 'offline' | 'refused' | 'never-seen';

export interface OverviewStore {
  storeId: string;
  name: string | null;
  state: StoreState;
  online: boolean;
  lastHeardAt: string | null;
  silentForMs: number | null;
  lastSeqReceived: number;
  localHeadSeq: number;
  eventsBehind: number;
  lastBatchAt: string | null;
  blacklistVersion: number | null;
  blacklistSyncedAt: string | null;
  refusal: { range: string; reason: string } | null;
}

export interface Totals {
  issuances: { count: number };
  loads: { count: number; total: number };
  pays: { count: number; total: number };
  declines: { count: number };
}

export interface Overview {
  at: string;
  offlineAfterMs: number;
  blacklistVersion: number;
  stores: OverviewStore[];
  today: { businessDay: string; from: string } & Totals;
  openLoads: { count: number; total: number };
  alerts: { open: number; bySeverity: Record<string, number>; byKind: Record<string, number> };
}

export interface Activity {
  eventsPerMinute: Array<{ storeId: string; minute: string; events: number }>;
  perHour: Array<{ hour: string; kind: string; count: number; total: number }>;
}

export interface Alert {
  alertId: number;
  cardId: string;
  kind: string;
  severity: 'critical' | 'high' | 'warning';
  message: string;
  eventId: string;
  storeId: string;
  storeSeq: number;
  raisedAt: string;
  authorizationId: string | null;
  resolved: boolean;
  resolution: { note: string; by: string; at: string } | null;
}

export interface CardView {
  cardId: string;
  userId: string;
  bankId?: string;
  withheld?: string[];
  expiry: string;
  primaryIssuedAt: string | null;
  issuance: { storeId: string; terminalId: string; issuedAt: string | null } | null;
  blacklisted: boolean;
  blacklistReason: string | null;
  blacklistedSince?: string | null;
  usage: {
    loadCount: number;
    loadedTotal: number;
    payCount: number;
    paidTotal: number;
    lastBalance: number | null;
    lastUsedAt: string | null;
  };
  purse?: { balance: number; counter: number } | null;
}

export interface UserView {
  userId: string;
  personal: { name: string; address: string; birthDate: string; occupation: string; affiliation: string };
  bank: { bankName: string; bankCode: string; branchCode: string; accountNumber: string };
  homeStoreId: string;
}

export interface TimelineEntry {
  type: string;
  occurredAt: string;
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

export interface StoreActivity {
  storeId: string;
  sync: { name: string | null; lastSeqReceived: number; localHeadSeq: number; eventsBehind: number; lastContactAt: string | null };
  contact: OverviewStore | null;
  batches: Array<{ seq: number; receivedAt: string; events: number; eventsBehind: number; lagMs: number }>;
  today: { businessDay: string; from: string } & Totals;
  terminals: Array<{ terminalId: string; events: number; lastSeenAt: string }>;
  backlog: { users: number; cards: number; userIds: string[] };
}
