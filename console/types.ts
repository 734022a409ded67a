// The API's answers as the console reads them (head office's OpenAPI document at /docs describes them).
import type { ActivityTotals, OverviewStore } from '../contracts/console-views.js';

export type {
  Overview,
  OverviewStore,
  PurseAlertView as Alert,
  TimelineEntry,
} from '../contracts/console-views.js';

export interface Activity {
  eventsPerMinute: Array<{ storeId: string; minute: string; events: number }>;
  perHour: Array<{ hour: string; kind: string; count: number; total: number }>;
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
  /** Set once head office closed the card: "returned" (its balance unloaded to the bank account) or "lost" (captured after a loss report). */
  closed: { reason: string; closedAt: string | null; storeId: string | null; unloadedAmount: number } | null;
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

export interface StoreActivity {
  storeId: string;
  sync: { name: string | null; lastSeqReceived: number; localHeadSeq: number; eventsBehind: number; lastContactAt: string | null };
  contact: OverviewStore | null;
  batches: Array<{ seq: number; receivedAt: string; events: number; eventsBehind: number; lagMs: number }>;
  today: { businessDay: string; from: string } & ActivityTotals;
  terminals: Array<{ terminalId: string; events: number; lastSeenAt: string }>;
  backlog: { users: number; cards: number; userIds: string[] };
}
