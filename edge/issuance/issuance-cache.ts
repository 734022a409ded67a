// The store's copy of its issuance info, in edge.db and encrypted at rest: each entry under
// AES-256-GCM with a key derived from the store's X25519 private key, found by an HMAC of the bank
// ID, so the file alone (or a copy of it) reveals neither names nor bank accounts.
//
// Snapshot messages are applied in stream order, each in one transaction with the cursor. A full
// generation is collected in a staging table and replaces the live copy when its last part arrives,
// so lookups keep working from the previous copy in the meantime.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import protobuf from 'protobufjs/minimal.js';
import { decodeOrThrow, pb, type cardsys } from '../../contracts/index.js';
import { createOpener, openSignedSealed, type KnownSender, type Opener, type SealContext } from '../../contracts/index.js';

export type IssuanceEntry = cardsys.v1.IssuanceEntry.$Properties;

const STAGING_TABLE = 'CREATE TABLE IF NOT EXISTS issuance_cache_staging (bank_key BLOB PRIMARY KEY, entry BLOB NOT NULL);';
// The cursor counts the store's snapshot messages (numbered 1, 2, … in the shared snapshot stream).
// issuance_cache_state held a sequence of the former per-store stream instead: dropped, so the
// store reads its feed from the start and its first full generation replaces the copy held.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS issuance_cache (bank_key BLOB PRIMARY KEY, entry BLOB NOT NULL);
${STAGING_TABLE}
DROP TABLE IF EXISTS issuance_cache_state;
CREATE TABLE IF NOT EXISTS issuance_cache_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  message INTEGER NOT NULL,
  generation INTEGER NOT NULL,
  change_seq INTEGER NOT NULL,
  staging_generation INTEGER NOT NULL,
  staging_next_part INTEGER NOT NULL
);
INSERT OR IGNORE INTO issuance_cache_cursor VALUES (1, 0, 0, 0, 0, 0);
`;

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Random nonces drawn this many at a time: one random read per batch instead of one per entry. */
const NONCES_PER_DRAW = 4096;

export interface CacheState {
  /** Number of the last of the store's snapshot messages applied. */
  message: number;
  /** Generation of the live copy (0: none yet). */
  generation: number;
  changeSeq: number;
  stagingGeneration: number;
  stagingNextPart: number;
}

/** What applying one snapshot message did. */
export type ApplyOutcome =
  | { kind: 'staged'; generation: number; part: number; parts: number }
  | { kind: 'replaced'; generation: number; entries: number }
  | { kind: 'changed'; upserts: number; removals: number }
  | { kind: 'skipped'; reason: string };

const UPSERTS_FIELD = 5;
const BANK_ID_FIELD = 1;
const LENGTH_DELIMITED = 2;

/** An update with its entries left encoded, each with its bank ID: stored as received, not re-encoded. */
interface SplitUpdate {
  update: cardsys.v1.IssuanceSnapshotUpdate;
  upserts: Array<{ bankId: string; bytes: Uint8Array }>;
}

function splitUpdate(bytes: Uint8Array): SplitUpdate {
  return decodeOrThrow('IssuanceSnapshotUpdate', () => {
    const reader = protobuf.Reader.create(bytes);
    const rest: Uint8Array[] = [];
    const upserts: SplitUpdate['upserts'] = [];
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const tag = reader.uint32();
      if (tag >>> 3 === UPSERTS_FIELD && (tag & 7) === LENGTH_DELIMITED) {
        const entry = reader.bytes();
        upserts.push({ bankId: bankIdOfEntry(entry), bytes: entry });
      } else {
        reader.skipType(tag & 7);
        rest.push(bytes.subarray(start, reader.pos));
      }
    }
    return { update: pb.IssuanceSnapshotUpdate.decode(Buffer.concat(rest)), upserts };
  });
}

function bankIdOfEntry(entry: Uint8Array): string {
  const reader = protobuf.Reader.create(entry);
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === BANK_ID_FIELD && (tag & 7) === LENGTH_DELIMITED) return reader.string();
    reader.skipType(tag & 7);
  }
  return '';
}

function keysFrom(privateKey: KeyObject): { index: Buffer; encryption: Buffer } {
  const d = privateKey.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new Error("the issuance cache needs the store's X25519 private key");
  const secret = Buffer.from(d, 'base64url');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), info, 32));
  return { index: derive('cardsys edge issuance cache index'), encryption: derive('cardsys edge issuance cache entries') };
}

export class IssuanceCache {
  private readonly keys: { index: Buffer; encryption: Buffer };
  private readonly opener: Opener;
  private nonces = Buffer.alloc(0);
  private nextNonce = 0;

  constructor(
    private readonly db: Database.Database,
    readonly storeId: string,
    sealingPrivateKey: KeyObject,
    private readonly snapshotContext: SealContext,
    /** Head office, whose signature every snapshot message must carry. */
    private readonly headOffice: KnownSender,
  ) {
    db.exec(SCHEMA);
    this.keys = keysFrom(sealingPrivateKey);
    this.opener = createOpener(sealingPrivateKey, snapshotContext);
  }

  state(): CacheState {
    const row = this.db.prepare('SELECT * FROM issuance_cache_cursor WHERE id = 1').get() as Record<string, number>;
    return {
      message: row.message!,
      generation: row.generation!,
      changeSeq: row.change_seq!,
      stagingGeneration: row.staging_generation!,
      stagingNextPart: row.staging_next_part!,
    };
  }

  /** Entries in the live copy. */
  size(): number {
    return this.db.prepare('SELECT count(*) FROM issuance_cache').pluck().get() as number;
  }

  private bankKey(bankId: string): Buffer {
    return createHmac('sha256', this.keys.index).update(bankId, 'utf8').digest().subarray(0, 16);
  }

  private nonce(): Buffer {
    if (this.nextNonce >= this.nonces.length) {
      this.nonces = randomBytes(NONCE_BYTES * NONCES_PER_DRAW);
      this.nextNonce = 0;
    }
    this.nextNonce += NONCE_BYTES;
    return this.nonces.subarray(this.nextNonce - NONCE_BYTES, this.nextNonce);
  }

  private encrypt(bankKey: Buffer, plaintext: Uint8Array): Buffer {
    const nonce = this.nonce();
    const cipher = createCipheriv('aes-256-gcm', this.keys.encryption, nonce);
    cipher.setAAD(bankKey);
    return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  private decrypt(bankKey: Buffer, blob: Buffer): Uint8Array {
    const decipher = createDecipheriv('aes-256-gcm', this.keys.encryption, blob.subarray(0, NONCE_BYTES));
    decipher.setAAD(bankKey);
    decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(blob.subarray(NONCE_BYTES, blob.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new Error(`issuance cache of store ${this.storeId}: an entry does not decrypt (damaged, or written under another store key)`);
    }
  }

  /** The entry for a bank ID from the live copy. */
  find(bankId: string): IssuanceEntry | undefined {
    const key = this.bankKey(bankId);
    const row = this.db.prepare('SELECT entry FROM issuance_cache WHERE bank_key = ?').get(key) as { entry: Buffer } | undefined;
    return row ? pb.IssuanceEntry.decode(this.decrypt(key, row.entry)) : undefined;
  }

  /** Adds an entry head office gave on demand to the live copy. */
  add(entry: IssuanceEntry): void {
    const key = this.bankKey(entry.bankId ?? '');
    this.db
      .prepare('INSERT OR REPLACE INTO issuance_cache (bank_key, entry) VALUES (?, ?)')
      .run(key, this.encrypt(key, pb.IssuanceEntry.encode(entry).finish()));
  }

  /**
   * Applies one of the store's snapshot messages. `seq` is its number; messages at
   * or before the cursor are skipped, so a re-read changes nothing. Throws if the blob is not
   * signed by head office or does not open with the store's key (nothing is applied then).
   */
  apply(seq: number, blob: Uint8Array): ApplyOutcome {
    const state = this.state();
    if (seq <= state.message) return { kind: 'skipped', reason: `message ${seq} already applied` };
    const { update, upserts } = splitUpdate(openSignedSealed(this.opener, this.snapshotContext, blob, this.headOffice));
    if (update.storeId !== this.storeId) throw new Error(`snapshot message ${seq} is for store ${update.storeId}, not ${this.storeId}`);
    return this.db.transaction((): ApplyOutcome => {
      const setState = (changes: Partial<CacheState>) => {
        const next = { ...state, ...changes, message: seq };
        this.db
          .prepare(
            'UPDATE issuance_cache_cursor SET message = ?, generation = ?, change_seq = ?, staging_generation = ?, staging_next_part = ? WHERE id = 1',
          )
          .run(next.message, next.generation, next.changeSeq, next.stagingGeneration, next.stagingNextPart);
      };
      if (update.parts > 0) return this.applyPart(update, upserts, state, setState);
      if (update.generation !== state.generation) {
        setState({});
        return { kind: 'skipped', reason: `change for generation ${update.generation}, the copy is generation ${state.generation}` };
      }
      const upsert = this.db.prepare('INSERT OR REPLACE INTO issuance_cache (bank_key, entry) VALUES (?, ?)');
      const remove = this.db.prepare('DELETE FROM issuance_cache WHERE bank_key = ?');
      for (const entry of upserts) {
        const key = this.bankKey(entry.bankId);
        upsert.run(key, this.encrypt(key, entry.bytes));
      }
      for (const bankId of update.removedBankIds) remove.run(this.bankKey(bankId));
      setState({ changeSeq: update.changeSeq });
      return { kind: 'changed', upserts: upserts.length, removals: update.removedBankIds.length };
    })();
  }

  private applyPart(
    update: cardsys.v1.IssuanceSnapshotUpdate,
    upserts: SplitUpdate['upserts'],
    state: CacheState,
    setState: (changes: Partial<CacheState>) => void,
  ): ApplyOutcome {
    if (update.part === 1) this.db.exec('DELETE FROM issuance_cache_staging');
    else if (update.generation !== state.stagingGeneration || update.part !== state.stagingNextPart) {
      setState({});
      return { kind: 'skipped', reason: `part ${update.part} of generation ${update.generation} out of order` };
    }
    const insert = this.db.prepare('INSERT OR REPLACE INTO issuance_cache_staging (bank_key, entry) VALUES (?, ?)');
    for (const entry of upserts) {
      const key = this.bankKey(entry.bankId);
      insert.run(key, this.encrypt(key, entry.bytes));
    }
    if (update.part < update.parts) {
      setState({ stagingGeneration: update.generation, stagingNextPart: update.part + 1 });
      return { kind: 'staged', generation: update.generation, part: update.part, parts: update.parts };
    }
    // The staged generation becomes the live copy by renaming, not copying.
    this.db.exec(`DROP TABLE issuance_cache; ALTER TABLE issuance_cache_staging RENAME TO issuance_cache; ${STAGING_TABLE}`);
    setState({ generation: update.generation, changeSeq: update.changeSeq, stagingGeneration: 0, stagingNextPart: 0 });
    return { kind: 'replaced', generation: update.generation, entries: this.size() };
  }
}
