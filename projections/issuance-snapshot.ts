// Issuance snapshots: which users each store may finish cards for. A store serves its own users
// and those of the stores it names as nearby (its StoreRegistered). Only cards still waiting for
// secondary issuance are listed: once a card is issued anywhere it leaves every snapshot, so stores
// hold no more personal data than they need.
//
// Besides the read model, the projection writes a change feed (store, bank ID) in the same
// transaction, so the publisher that seals and sends snapshots never misses a change. A change with
// no bank ID asks for a whole new snapshot of that store (a new store, new neighbours, a new key).
import type Database from 'better-sqlite3';
import { pb, type cardsys, type DomainEvent } from '../contracts/index.js';
import type { Projection } from './projection.js';
import { CHAIN_HEAD_RECORD_TYPE } from '../eventstore/index.js';
import { bankIdDigits } from '../card/index.js';

export type IssuanceEntry = cardsys.v1.IssuanceEntry.$Properties;

export const ISSUANCE_SNAPSHOT_SCHEMA = `
CREATE TABLE IF NOT EXISTS issuance_feed (id TEXT NOT NULL);
INSERT INTO issuance_feed (id) SELECT lower(hex(randomblob(8))) WHERE NOT EXISTS (SELECT 1 FROM issuance_feed);
CREATE TABLE IF NOT EXISTS issuance_stores (
  store_id TEXT PRIMARY KEY,
  registered INTEGER NOT NULL DEFAULT 0,
  nearby TEXT NOT NULL DEFAULT '[]',
  sealing_key BLOB
);
CREATE TABLE IF NOT EXISTS issuance_users (
  bank_id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL UNIQUE,
  home_store_id TEXT NOT NULL,
  pending_cards INTEGER NOT NULL,
  entry BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS issuance_users_pending_by_home ON issuance_users (home_store_id) WHERE pending_cards > 0;
CREATE TABLE IF NOT EXISTS issuance_changes (
  change_seq INTEGER PRIMARY KEY AUTOINCREMENT,
  store_id TEXT NOT NULL,
  bank_id TEXT
);
CREATE INDEX IF NOT EXISTS issuance_changes_by_store ON issuance_changes (store_id, change_seq);
`;

const ISSUANCE_SNAPSHOT_TABLES = ['issuance_feed', 'issuance_stores', 'issuance_users', 'issuance_changes'] as const;

interface UserRow {
  bank_id: string;
  user_id: string;
  home_store_id: string;
  pending_cards: number;
  entry: Buffer;
}

const statements = new WeakMap<Database.Database, Map<string, Database.Statement>>();

/** Prepared once per database handle: the projection runs the same few statements for every event. */
function sql(db: Database.Database, text: string): Database.Statement {
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map()));
  let statement = cache.get(text);
  if (!statement) cache.set(text, (statement = db.prepare(text)));
  return statement;
}

const decodeEntry = (bytes: Uint8Array): IssuanceEntry => pb.IssuanceEntry.decode(bytes);
const encodeEntry = (entry: IssuanceEntry): Uint8Array => pb.IssuanceEntry.encode(entry).finish();

/** Applies one event to the issuance snapshot read model and its change feed. */
export function applyIssuanceEvent(db: Database.Database, event: DomainEvent): void {
  switch (event.type) {
    case 'StoreRegistered': {
      sql(
        db,
        `INSERT INTO issuance_stores (store_id, registered, nearby) VALUES (?, 1, ?)
         ON CONFLICT (store_id) DO UPDATE SET registered = 1, nearby = excluded.nearby`,
      ).run(event.data.storeId, JSON.stringify(event.data.nearbyStoreIds ?? []));
      askForFullSnapshot(db, event.data.storeId);
      return;
    }
    case 'StoreKeyRegistered': {
      if (!event.data.sealingPublicKey || event.data.sealingPublicKey.length === 0) return;
      sql(
        db,
        `INSERT INTO issuance_stores (store_id, sealing_key) VALUES (?, ?)
         ON CONFLICT (store_id) DO UPDATE SET sealing_key = excluded.sealing_key`,
      ).run(event.data.storeId, Buffer.from(event.data.sealingPublicKey));
      askForFullSnapshot(db, event.data.storeId);
      return;
    }
    case 'UserRegistered': {
      const { data } = event;
      const entry: IssuanceEntry = {
        bankId: bankIdDigits(data.bank ?? {}),
        userId: data.userId,
        personal: data.personal,
        bank: data.bank,
        homeStoreId: data.homeStoreId,
        cards: [],
      };
      sql(
        db,
        `INSERT INTO issuance_users (bank_id, user_id, home_store_id, pending_cards, entry) VALUES (?, ?, ?, 0, ?)
         ON CONFLICT (bank_id) DO NOTHING`,
      ).run(entry.bankId, data.userId, data.homeStoreId, encodeEntry(entry));
      return;
    }
    case 'CardPrimaryIssued':
      return updateCards(db, event.data.userId, (cards) => [
        ...cards.filter((card) => card.cardId !== event.data.cardId),
        { cardId: event.data.cardId, expiry: event.data.expiry },
      ]);
    case 'CardIssued':
      return updateCards(db, event.data.userId, (cards) => cards.filter((card) => card.cardId !== event.data.cardId));
    default:
      return;
  }
}

function askForFullSnapshot(db: Database.Database, storeId: string): void {
  sql(db, 'INSERT INTO issuance_changes (store_id, bank_id) VALUES (?, NULL)').run(storeId);
}

function updateCards(
  db: Database.Database,
  userId: string,
  change: (cards: cardsys.v1.IssuableCard.$Properties[]) => cardsys.v1.IssuableCard.$Properties[],
): void {
  const row = sql(db, 'SELECT * FROM issuance_users WHERE user_id = ?').get(userId) as UserRow | undefined;
  if (!row) return;
  const entry = decodeEntry(row.entry);
  const cards = change(entry.cards ?? []);
  sql(db, 'UPDATE issuance_users SET pending_cards = ?, entry = ? WHERE bank_id = ?').run(
    cards.length,
    encodeEntry({ ...entry, cards }),
    row.bank_id,
  );
  if (cards.length === 0 && row.pending_cards === 0) return;
  const servingStores = db
    .prepare(
      `SELECT store_id FROM issuance_stores
       WHERE registered = 1 AND (store_id = @home OR EXISTS (SELECT 1 FROM json_each(nearby) WHERE value = @home))`,
    )
    .pluck()
    .all({ home: row.home_store_id }) as string[];
  const record = sql(db, 'INSERT INTO issuance_changes (store_id, bank_id) VALUES (?, ?)');
  for (const storeId of servingStores) record.run(storeId, row.bank_id);
}

/** The projection as the runner registers it. */
export const issuanceSnapshotProjection: Projection = {
  name: 'issuance-snapshot',
  version: 1,
  schema: ISSUANCE_SNAPSHOT_SCHEMA,
  tables: ISSUANCE_SNAPSHOT_TABLES,
  apply(db, event) {
    if (event.type !== CHAIN_HEAD_RECORD_TYPE) applyIssuanceEvent(db, event);
  },
};

export interface SnapshotStore {
  storeId: string;
  /** Raw X25519 public key the store's snapshot is sealed to. */
  sealingKey: Uint8Array;
}

export interface SnapshotChange {
  changeSeq: number;
  /** undefined: the store needs a whole new snapshot. */
  bankId: string | undefined;
}

const SNAPSHOT_STORES = 'SELECT store_id, sealing_key FROM issuance_stores WHERE registered = 1 AND sealing_key IS NOT NULL';

interface SnapshotStoreRow {
  store_id: string;
  sealing_key: Buffer;
}

const snapshotStoreOf = (row: SnapshotStoreRow): SnapshotStore => ({ storeId: row.store_id, sealingKey: new Uint8Array(row.sealing_key) });

/** Queries over the issuance snapshot read model, for the publisher and on-demand lookups. */
export class IssuanceSnapshotReader {
  constructor(private readonly db: Database.Database) {}

  /** Identifies this change feed: a rebuilt read model starts a new feed, and every store a new snapshot. */
  feedId(): string {
    return this.db.prepare('SELECT id FROM issuance_feed').pluck().get() as string;
  }

  headChangeSeq(): number {
    return (this.db.prepare('SELECT coalesce(max(change_seq), 0) FROM issuance_changes').pluck().get() as number) ?? 0;
  }

  /** Registered stores with a sealing key: the ones that get snapshots. */
  stores(): SnapshotStore[] {
    const rows = sql(this.db, `${SNAPSHOT_STORES} ORDER BY store_id`).all() as SnapshotStoreRow[];
    return rows.map(snapshotStoreOf);
  }

  store(storeId: string): SnapshotStore | undefined {
    const row = sql(this.db, `${SNAPSHOT_STORES} AND store_id = ?`).get(storeId) as SnapshotStoreRow | undefined;
    return row && snapshotStoreOf(row);
  }

  /** The home stores whose users this store may finish: itself and its nearby stores. */
  servedHomes(storeId: string): string[] {
    const nearby = this.db.prepare('SELECT nearby FROM issuance_stores WHERE store_id = ?').pluck().get(storeId) as string | undefined;
    return [...new Set([storeId, ...(nearby ? (JSON.parse(nearby) as string[]) : [])])];
  }

  /** The users the store may finish cards for whose cards still await secondary issuance (its backlog). */
  backlog(storeId: string, limit = 100): { users: number; cards: number; userIds: string[] } {
    const homes = this.servedHomes(storeId);
    const rows = this.db
      .prepare(
        `SELECT user_id, pending_cards FROM issuance_users WHERE pending_cards > 0 AND home_store_id IN (${homes.map(() => '?').join(',')}) ORDER BY user_id`,
      )
      .all(...homes) as Array<{ user_id: string; pending_cards: number }>;
    return {
      users: rows.length,
      cards: rows.reduce((sum, row) => sum + row.pending_cards, 0),
      userIds: rows.slice(0, limit).map((row) => row.user_id),
    };
  }

  /** Everything in the store's snapshot, read in one transaction with the feed position it reflects. */
  snapshot(storeId: string): { changeSeq: number; entries: Uint8Array[] } {
    return this.db.transaction(() => {
      const homes = this.servedHomes(storeId);
      const entries = this.db
        .prepare(`SELECT entry FROM issuance_users WHERE pending_cards > 0 AND home_store_id IN (${homes.map(() => '?').join(',')})`)
        .pluck()
        .all(...homes) as Buffer[];
      return { changeSeq: this.headChangeSeq(), entries: entries.map((bytes) => new Uint8Array(bytes)) };
    })();
  }

  changesAfter(storeId: string, afterSeq: number, limit: number): SnapshotChange[] {
    const rows = this.db
      .prepare('SELECT change_seq, bank_id FROM issuance_changes WHERE store_id = ? AND change_seq > ? ORDER BY change_seq LIMIT ?')
      .all(storeId, afterSeq, limit) as Array<{ change_seq: number; bank_id: string | null }>;
    return rows.map((row) => ({ changeSeq: row.change_seq, bankId: row.bank_id ?? undefined }));
  }

  /** The user's entry as the store should hold it now, or undefined when the store should not hold it. */
  entryForStore(storeId: string, bankId: string): Uint8Array | undefined {
    const row = this.db.prepare('SELECT * FROM issuance_users WHERE bank_id = ?').get(bankId) as UserRow | undefined;
    if (!row || row.pending_cards === 0 || !this.servedHomes(storeId).includes(row.home_store_id)) return undefined;
    return new Uint8Array(row.entry);
  }

  /** Any user's entry while a card of theirs waits for secondary issuance: the on-demand lookup. */
  pendingEntry(bankId: string): IssuanceEntry | undefined {
    const row = this.db.prepare('SELECT entry FROM issuance_users WHERE bank_id = ? AND pending_cards > 0').get(bankId) as
      | { entry: Buffer }
      | undefined;
    return row ? decodeEntry(row.entry) : undefined;
  }
}
