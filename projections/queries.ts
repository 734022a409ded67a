import type Database from 'better-sqlite3';

// Reads of the read models, shaped for the query API: times as ISO 8601 UTC, money in yen.

const iso = (ms: number | null | undefined) => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export interface CardView {
  cardId: string;
  userId: string;
  bankId: string;
  expiry: string;
  keyVersion: number | null;
  primaryIssuedAt: string | null;
  /**
   * recordMatchesUser: the data the store wrote to the chip is the user's registered data (null: not
   * checkable); recovered: recorded from the chip by a store that found no issuance recorded.
   */
  issuance: { storeId: string; terminalId: string; issuedAt: string | null; recordMatchesUser: boolean | null; recovered: boolean } | null;
  blacklisted: boolean;
  blacklistReason: string | null;
  /** Head office closed the card (reason "returned": handed back, its balance unloaded to the bank account). */
  closed: { reason: string; closedAt: string | null; storeId: string | null; unloadedAmount: number } | null;
  usage: {
    count: number;
    loadCount: number;
    loadedTotal: number;
    payCount: number;
    paidTotal: number;
    lastUsedAt: string | null;
    lastOperation: string | null;
    lastStoreId: string | null;
    lastBalance: number | null;
  };
}

export interface UserView {
  userId: string;
  applicationId: string;
  personal: { name: string; address: string; birthDate: string; occupation: string; affiliation: string };
  bank: { bankName: string; bankCode: string; branchCode: string; accountNumber: string };
  homeStoreId: string;
  registeredAt: string | null;
  cards: CardView[];
}

export interface StoreSyncView {
  storeId: string;
  name: string | null;
  registeredAt: string | null;
  lastSeqReceived: number;
  localHeadSeq: number;
  eventsBehind: number;
  batchesReceived: number;
  lastContactAt: string | null;
  /** The last batch head office refused, while the store has not got past it. */
  refusal: { range: string; reason: string; eventType: string | null; resendFrom: number; at: string | null } | null;
}

interface CardRow {
  card_id: string;
  user_id: string;
  bank_id: string;
  expiry: string;
  key_version: number | null;
  primary_issued_at_ms: number | null;
  issued_store_id: string | null;
  issued_terminal_id: string | null;
  issued_at_ms: number | null;
  issued_record_matches: number | null;
  issued_recovered: number | null;
  blacklisted: number;
  blacklist_reason: string | null;
  closed_reason: string | null;
  closed_at_ms: number | null;
  closed_store_id: string | null;
  closed_unloaded: number | null;
  load_count: number | null;
  loaded_total: number | null;
  pay_count: number | null;
  paid_total: number | null;
  last_used_at_ms: number | null;
  last_operation: string | null;
  last_store_id: string | null;
  last_balance: number | null;
}

// cards.* last: a card without usage keeps its card_id (card_usage.card_id is NULL then).
const CARD_SELECT = 'SELECT card_usage.*, cards.* FROM cards LEFT JOIN card_usage ON card_usage.card_id = cards.card_id';

function cardView(row: CardRow): CardView {
  const loads = row.load_count ?? 0;
  const pays = row.pay_count ?? 0;
  return {
    cardId: row.card_id,
    userId: row.user_id,
    bankId: row.bank_id,
    expiry: row.expiry,
    keyVersion: row.key_version,
    primaryIssuedAt: iso(row.primary_issued_at_ms),
    issuance: row.issued_store_id
      ? {
          storeId: row.issued_store_id,
          terminalId: row.issued_terminal_id ?? '',
          issuedAt: iso(row.issued_at_ms),
          recordMatchesUser: row.issued_record_matches === null ? null : row.issued_record_matches === 1,
          recovered: row.issued_recovered === 1,
        }
      : null,
    blacklisted: row.blacklisted === 1,
    blacklistReason: row.blacklist_reason,
    closed:
      row.closed_reason === null
        ? null
        : {
            reason: row.closed_reason,
            closedAt: iso(row.closed_at_ms),
            storeId: row.closed_store_id,
            unloadedAmount: row.closed_unloaded ?? 0,
          },
    usage: {
      count: loads + pays,
      loadCount: loads,
      loadedTotal: row.loaded_total ?? 0,
      payCount: pays,
      paidTotal: row.paid_total ?? 0,
      lastUsedAt: iso(row.last_used_at_ms),
      lastOperation: row.last_operation,
      lastStoreId: row.last_store_id,
      lastBalance: row.last_balance,
    },
  };
}

interface StoreSyncRow {
  store_id: string;
  name: string | null;
  registered_at_ms: number | null;
  last_seq_received: number;
  local_head_seq: number;
  batches_received: number;
  last_contact_at_ms: number | null;
  refused_range: string | null;
  refused_reason: string | null;
  refused_event_type: string | null;
  refused_resend_from: number | null;
  refused_at_ms: number | null;
}

const storeSyncView = (row: StoreSyncRow): StoreSyncView => ({
  storeId: row.store_id,
  name: row.name,
  registeredAt: iso(row.registered_at_ms),
  lastSeqReceived: row.last_seq_received,
  localHeadSeq: row.local_head_seq,
  eventsBehind: Math.max(0, row.local_head_seq - row.last_seq_received),
  batchesReceived: row.batches_received,
  lastContactAt: iso(row.last_contact_at_ms),
  refusal:
    row.refused_reason === null
      ? null
      : {
          range: row.refused_range ?? '',
          reason: row.refused_reason,
          eventType: row.refused_event_type,
          resendFrom: row.refused_resend_from ?? 0,
          at: iso(row.refused_at_ms),
        },
});

/** Read-only queries over the user DB and store sync status. */
export class ReadModelQueries {
  constructor(private readonly db: Database.Database) {}

  card(cardId: string): CardView | undefined {
    const row = this.db.prepare(`${CARD_SELECT} WHERE cards.card_id = ?`).get(cardId) as CardRow | undefined;
    return row && cardView(row);
  }

  user(userId: string): UserView | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE user_id = ?').get(userId) as Record<string, string | number> | undefined;
    if (!row) return undefined;
    const cards = (this.db.prepare(`${CARD_SELECT} WHERE cards.user_id = ? ORDER BY cards.card_id`).all(userId) as CardRow[]).map(cardView);
    return {
      userId: String(row.user_id),
      applicationId: String(row.application_id),
      personal: {
        name: String(row.name),
        address: String(row.address),
        birthDate: String(row.birth_date),
        occupation: String(row.occupation),
        affiliation: String(row.affiliation),
      },
      bank: {
        bankName: String(row.bank_name),
        bankCode: String(row.bank_code),
        branchCode: String(row.branch_code),
        accountNumber: String(row.account_number),
      },
      homeStoreId: String(row.home_store_id),
      registeredAt: iso(Number(row.registered_at_ms)),
      cards,
    };
  }

  /** Positions in the host event store of the events naming a card, oldest first, after a position. */
  cardEventPositions(cardId: string, options: { after?: bigint; limit: number }): bigint[] {
    const rows = this.db
      .prepare('SELECT position FROM card_events WHERE card_id = ? AND position > ? ORDER BY position LIMIT ?')
      .safeIntegers(true)
      .all(cardId, options.after ?? -1n, options.limit) as Array<{ position: bigint }>;
    return rows.map((row) => row.position);
  }

  /** The cards of a user or of a bank account (the search of head office's console). */
  cardsOf(by: { userId: string } | { bankId: string }): CardView[] {
    const [column, value] = 'userId' in by ? ['user_id', by.userId] : ['bank_id', by.bankId];
    return (this.db.prepare(`${CARD_SELECT} WHERE cards.${column} = ? ORDER BY cards.card_id LIMIT 100`).all(value) as CardRow[]).map(
      cardView,
    );
  }

  storeSync(storeId: string): StoreSyncView | undefined {
    const row = this.db.prepare('SELECT * FROM store_sync WHERE store_id = ?').get(storeId) as StoreSyncRow | undefined;
    return row && storeSyncView(row);
  }

  stores(): StoreSyncView[] {
    return (this.db.prepare('SELECT * FROM store_sync ORDER BY store_id').all() as StoreSyncRow[]).map(storeSyncView);
  }
}
