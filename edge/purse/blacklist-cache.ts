// The store's copy of head office's blacklist, in edge.db so that a store cut off from head office
// still refuses a card blacklisted before the cut. Changes arrive as they happen on
// cardsys.blacklist.changes; a whole-list sync at start, on every reconnect, when a change arrives
// out of order, and every so often catches up whatever was missed. A change or a list is taken only
// when head office's signature over it verifies with the key the store got at provisioning: anything
// else is refused, logged and counted, and leaves the copy as it was.
import type { Database } from 'better-sqlite3';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { decodeOrThrow, headOfficeMessageRefusal, pb, subjects, type KnownSender } from '../../contracts/index.js';
import type { Logger } from '../../infra/index.js';

export interface BlacklistedCard {
  cardId: string;
  reason: string;
  sinceMs: number;
}

export class BlacklistCache {
  private readonly lookup;
  private readonly versionRead;
  private readonly versionWrite;
  private readonly upsert;
  private readonly remove;
  private readonly clear;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Changes and lists refused because head office's signature did not verify over them. */
  refused = 0;

  constructor(
    private readonly db: Database,
    private readonly storeId: string,
    /** Head office, with the key its changes and lists must be signed with. */
    private readonly headOffice: KnownSender,
    private readonly logger: Logger = console,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS blacklist (card_id TEXT PRIMARY KEY, reason TEXT NOT NULL, since_ms INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS blacklist_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)`);
    this.lookup = db.prepare<[string], { card_id: string; reason: string; since_ms: number }>(
      'SELECT card_id, reason, since_ms FROM blacklist WHERE card_id = ?',
    );
    this.versionRead = db.prepare<[], { version: number }>('SELECT version FROM blacklist_version WHERE id = 1');
    this.versionWrite = db.prepare<[number]>(
      'INSERT INTO blacklist_version (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version',
    );
    this.upsert = db.prepare<[string, string, number]>(
      'INSERT INTO blacklist (card_id, reason, since_ms) VALUES (?, ?, ?) ON CONFLICT (card_id) DO UPDATE SET reason = excluded.reason, since_ms = excluded.since_ms',
    );
    this.remove = db.prepare<[string]>('DELETE FROM blacklist WHERE card_id = ?');
    this.clear = db.prepare('DELETE FROM blacklist');
  }

  find(cardId: string): BlacklistedCard | undefined {
    const row = this.lookup.get(cardId);
    return row && { cardId: row.card_id, reason: row.reason, sinceMs: row.since_ms };
  }

  get version(): number {
    return this.versionRead.get()?.version ?? 0;
  }

  /** Applies one change if it is the next one; false when it is not (a sync is needed). */
  applyChange(change: { version: number; cardId: string; blacklisted: boolean; reason: string; atMs: number }): boolean {
    if (change.version <= this.version) return true;
    if (change.version !== this.version + 1) return false;
    this.db.transaction(() => {
      if (change.blacklisted) this.upsert.run(change.cardId, change.reason, change.atMs);
      else this.remove.run(change.cardId);
      this.versionWrite.run(change.version);
    })();
    return true;
  }

  replace(version: number, entries: BlacklistedCard[]): void {
    this.db.transaction(() => {
      this.clear.run();
      for (const entry of entries) this.upsert.run(entry.cardId, entry.reason, entry.sinceMs);
      this.versionWrite.run(version);
    })();
  }

  /** Asks head office for the list if it is newer than ours. */
  async sync(nc: NatsConnection): Promise<void> {
    const request = pb.BlacklistSyncRequest.encode({ storeId: this.storeId, knownVersion: this.version }).finish();
    const message = await nc.request(subjects.blacklistSync(this.storeId), request, { timeout: 5_000 });
    const reply = decodeOrThrow('BlacklistSyncReply', () => pb.BlacklistSyncReply.decode(message.data));
    if (reply.unchanged) return;
    const refusal =
      headOfficeMessageRefusal('BlacklistSyncReply', this.headOffice, reply) ??
      (reply.version < this.version ? `it is at version ${reply.version}, older than the list held (${this.version})` : undefined);
    if (refusal) return this.refuse(`list at version ${reply.version}`, refusal);
    this.replace(
      reply.version,
      reply.entries.map((e) => ({ cardId: e.cardId ?? '', reason: e.reason ?? '', sinceMs: e.sinceMs ?? 0 })),
    );
    this.logger.info(`blacklist: store ${this.storeId} now at version ${reply.version} (${reply.entries.length} card(s))`);
  }

  /** Follows head office's changes on this connection, syncing now and every `resyncEveryMs`. */
  follow(nc: NatsConnection, resyncEveryMs = 30_000): void {
    const syncNow = () =>
      void this.sync(nc).catch((error: Error) => this.logger.warn(`blacklist: sync for store ${this.storeId} failed: ${error.message}`));
    this.subscription?.unsubscribe();
    this.subscription = nc.subscribe(subjects.blacklistChanges, {
      callback: (error, message) => {
        if (error) return;
        try {
          const change = pb.BlacklistChange.decode(message.data);
          const refusal = headOfficeMessageRefusal('BlacklistChange', this.headOffice, change);
          if (refusal) return this.refuse(`change version ${change.version} (card ${change.cardId})`, refusal);
          if (!this.applyChange(change)) syncNow();
        } catch (decodeError) {
          this.logger.warn(`blacklist: malformed change ignored: ${(decodeError as Error).message}`);
        }
      },
    });
    if (this.timer) clearInterval(this.timer);
    this.timer = setInterval(syncNow, resyncEveryMs);
    this.timer.unref();
    syncNow();
  }

  private refuse(what: string, why: string): void {
    this.refused++;
    this.logger.warn(`blacklist: store ${this.storeId} refused a ${what}, not applied: ${why}`);
  }

  stop(): void {
    this.subscription?.unsubscribe();
    if (this.timer) clearInterval(this.timer);
  }
}
