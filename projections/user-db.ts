import type Database from 'better-sqlite3';
import type { Projection } from './projection.js';
import { prepared } from './statements.js';
import { writtenRecordBytes, writtenRecordDigest } from '../domain/index.js';
import { CHAIN_HEAD_RECORD_TYPE } from '../eventstore/index.js';

// The head office user DB: users, their cards, chip usage per card, and an index of every event
// that names a card (for a card's history).

const SCHEMA = `
CREATE TABLE IF NOT EXISTS users (
  user_id TEXT PRIMARY KEY,
  application_id TEXT NOT NULL,
  name TEXT NOT NULL,
  address TEXT NOT NULL,
  birth_date TEXT NOT NULL,
  occupation TEXT NOT NULL,
  affiliation TEXT NOT NULL,
  bank_name TEXT NOT NULL,
  bank_code TEXT NOT NULL,
  branch_code TEXT NOT NULL,
  account_number TEXT NOT NULL,
  home_store_id TEXT NOT NULL,
  registered_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
  card_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  bank_id TEXT NOT NULL,
  expiry TEXT NOT NULL,
  key_version INTEGER,
  primary_issued_at_ms INTEGER,
  issued_store_id TEXT,
  issued_terminal_id TEXT,
  issued_at_ms INTEGER,
  -- 1 when the record the store wrote to the chip is the user's registered data, 0 when not.
  issued_record_matches INTEGER,
  -- 1 when a store found the card personalised and no issuance recorded, and recorded it from the chip.
  issued_recovered INTEGER,
  blacklisted INTEGER NOT NULL DEFAULT 0,
  blacklist_reason TEXT,
  -- Set when head office closed the card (handed back: "returned"; reported lost and captured at a store: "lost"), with the store and what it unloaded.
  closed_reason TEXT,
  closed_at_ms INTEGER,
  closed_store_id TEXT,
  closed_unloaded INTEGER
);
CREATE INDEX IF NOT EXISTS cards_by_user ON cards (user_id);
CREATE TABLE IF NOT EXISTS card_usage (
  card_id TEXT PRIMARY KEY,
  load_count INTEGER NOT NULL DEFAULT 0,
  loaded_total INTEGER NOT NULL DEFAULT 0,
  pay_count INTEGER NOT NULL DEFAULT 0,
  paid_total INTEGER NOT NULL DEFAULT 0,
  last_used_at_ms INTEGER,
  last_operation TEXT,
  last_store_id TEXT,
  last_balance INTEGER
);
CREATE TABLE IF NOT EXISTS card_events (
  card_id TEXT NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (card_id, position)
) WITHOUT ROWID;`;

/** Whether the digest of what the store wrote is the digest of the user's registered data (null: user unknown). */
function issuedRecordMatches(db: Database.Database, issued: { userId: string; bankId: string; writtenDigest: Uint8Array }): number | null {
  const user = prepared(db, 'SELECT * FROM users WHERE user_id = ?').get(issued.userId) as Record<string, string> | undefined;
  if (!user) return null;
  const expected = writtenRecordDigest(
    writtenRecordBytes(issued.bankId, {
      userId: issued.userId,
      personal: {
        name: user.name,
        address: user.address,
        birthDate: user.birth_date,
        occupation: user.occupation,
        affiliation: user.affiliation,
      },
      bank: { bankName: user.bank_name, bankCode: user.bank_code, branchCode: user.branch_code, accountNumber: user.account_number },
    }),
  );
  return Buffer.from(expected).equals(Buffer.from(issued.writtenDigest)) ? 1 : 0;
}

export const userDbProjection: Projection = {
  name: 'user-db',
  version: 4,
  schema: SCHEMA,
  tables: ['users', 'cards', 'card_usage', 'card_events'],
  apply(db: Database.Database, event) {
    if (event.type === CHAIN_HEAD_RECORD_TYPE) return;
    const occurredAt = event.envelope.occurredAtMs;
    const cardId = (event.data as { cardId?: string }).cardId;
    if (cardId) prepared(db, 'INSERT OR IGNORE INTO card_events (card_id, position) VALUES (?, ?)').run(cardId, event.position);
    switch (event.type) {
      case 'UserRegistered': {
        const { personal, bank } = event.data;
        prepared(
          db,
          `INSERT INTO users VALUES (@userId, @applicationId, @name, @address, @birthDate, @occupation, @affiliation,
             @bankName, @bankCode, @branchCode, @accountNumber, @homeStoreId, @occurredAt)
           ON CONFLICT (user_id) DO UPDATE SET application_id = excluded.application_id, name = excluded.name,
             address = excluded.address, birth_date = excluded.birth_date, occupation = excluded.occupation,
             affiliation = excluded.affiliation, bank_name = excluded.bank_name, bank_code = excluded.bank_code,
             branch_code = excluded.branch_code, account_number = excluded.account_number, home_store_id = excluded.home_store_id`,
        ).run({
          userId: event.data.userId,
          applicationId: event.data.applicationId,
          name: personal?.name ?? '',
          address: personal?.address ?? '',
          birthDate: personal?.birthDate ?? '',
          occupation: personal?.occupation ?? '',
          affiliation: personal?.affiliation ?? '',
          bankName: bank?.bankName ?? '',
          bankCode: bank?.bankCode ?? '',
          branchCode: bank?.branchCode ?? '',
          accountNumber: bank?.accountNumber ?? '',
          homeStoreId: event.data.homeStoreId,
          occurredAt,
        });
        return;
      }
      case 'CardPrimaryIssued':
        prepared(
          db,
          `INSERT INTO cards (card_id, user_id, bank_id, expiry, key_version, primary_issued_at_ms) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (card_id) DO UPDATE SET user_id = excluded.user_id, bank_id = excluded.bank_id, expiry = excluded.expiry,
             key_version = excluded.key_version, primary_issued_at_ms = excluded.primary_issued_at_ms`,
        ).run(event.data.cardId, event.data.userId, event.data.bankId, event.data.expiry, event.data.keyVersion, occurredAt);
        return;
      case 'CardIssued':
        // A recovered record never replaces an issuance already recorded (the issuing store's own
        // record, replicated late, replaces a recovered one): the same card once, whatever the order.
        prepared(
          db,
          `INSERT INTO cards (card_id, user_id, bank_id, expiry, issued_store_id, issued_terminal_id, issued_at_ms, issued_record_matches, issued_recovered)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (card_id) DO UPDATE SET issued_store_id = excluded.issued_store_id,
             issued_terminal_id = excluded.issued_terminal_id, issued_at_ms = excluded.issued_at_ms,
             issued_record_matches = excluded.issued_record_matches, issued_recovered = excluded.issued_recovered
           WHERE excluded.issued_recovered = 0 OR cards.issued_at_ms IS NULL`,
        ).run(
          event.data.cardId,
          event.data.userId,
          event.data.bankId,
          event.data.expiry,
          event.data.storeId,
          event.data.terminalId,
          occurredAt,
          issuedRecordMatches(db, event.data),
          event.data.recovered ? 1 : 0,
        );
        return;
      case 'PurseUnloaded':
        prepared(
          db,
          `INSERT INTO card_usage (card_id, last_used_at_ms, last_operation, last_store_id, last_balance) VALUES (?, ?, 'unload', ?, 0)
           ON CONFLICT (card_id) DO UPDATE SET last_used_at_ms = excluded.last_used_at_ms, last_operation = 'unload',
             last_store_id = excluded.last_store_id, last_balance = 0`,
        ).run(event.data.cardId, occurredAt, event.data.storeId);
        return;
      case 'CardClosed':
        prepared(
          db,
          'UPDATE cards SET closed_reason = ?, closed_at_ms = ?, closed_store_id = ?, closed_unloaded = ? WHERE card_id = ?',
        ).run(event.data.reason, occurredAt, event.data.storeId, event.data.unloadedAmount, event.data.cardId);
        return;
      case 'PurseLoaded':
      case 'PursePaid':
      // A refund moves the balance; the counts stay those of loads and pays.
      case 'PurseRefunded': {
        const load = event.type === 'PurseLoaded';
        const pay = event.type === 'PursePaid';
        prepared(
          db,
          `INSERT INTO card_usage (card_id, load_count, loaded_total, pay_count, paid_total, last_used_at_ms, last_operation, last_store_id, last_balance)
           VALUES (@cardId, @loads, @loaded, @pays, @paid, @at, @operation, @storeId, @balance)
           ON CONFLICT (card_id) DO UPDATE SET load_count = load_count + @loads, loaded_total = loaded_total + @loaded,
             pay_count = pay_count + @pays, paid_total = paid_total + @paid,
             last_used_at_ms = @at, last_operation = @operation, last_store_id = @storeId, last_balance = @balance`,
        ).run({
          cardId: event.data.cardId,
          loads: load ? 1 : 0,
          loaded: load ? event.data.amount : 0,
          pays: pay ? 1 : 0,
          paid: pay ? event.data.amount : 0,
          at: occurredAt,
          operation: load ? 'load' : pay ? 'pay' : 'refund',
          storeId: event.data.storeId,
          balance: event.data.newBalance,
        });
        return;
      }
      case 'CardBlacklisted':
      case 'CardReinstated':
        prepared(db, 'UPDATE cards SET blacklisted = ?, blacklist_reason = ? WHERE card_id = ?').run(
          event.type === 'CardBlacklisted' ? 1 : 0,
          event.type === 'CardBlacklisted' ? event.data.reason : null,
          event.data.cardId,
        );
        return;
      default:
        return;
    }
  },
};
