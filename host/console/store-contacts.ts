// When head office last heard from each store, and which blacklist version each store was last
// sent: what the console's overview needs to tell a store that is online from one cut off, which
// the read models cannot (they change only when a batch arrives, and a quiet store sends none).
// Edges ask head office where it stands every few seconds (the replicator's heartbeat), so a store
// whose link is cut falls silent within seconds. Kept in memory by the instance that answers
// stores (the leader); a follower has heard nothing.

/** Silence after which a store counts as offline: a few of its heartbeats missed. */
const DEFAULT_OFFLINE_AFTER_MS = 6_000;

export interface StoreContact {
  /** When head office last heard from it (a batch or a sync request), ms since the epoch. */
  lastHeardAtMs: number | null;
  /** The blacklist version head office last sent it (its answer to the store's blacklist sync). */
  blacklistVersion: number | null;
  blacklistSyncedAtMs: number | null;
}

export class StoreContacts {
  private readonly contacts = new Map<string, StoreContact>();
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly offlineAfterMs = DEFAULT_OFFLINE_AFTER_MS,
    private readonly now: () => number = Date.now,
  ) {}

  private contact(storeId: string): StoreContact {
    let contact = this.contacts.get(storeId);
    if (!contact) this.contacts.set(storeId, (contact = { lastHeardAtMs: null, blacklistVersion: null, blacklistSyncedAtMs: null }));
    return contact;
  }

  /** The store spoke to head office: a batch, a sync request. */
  heard(storeId: string): void {
    const contact = this.contact(storeId);
    const wasOnline = this.online(contact);
    contact.lastHeardAtMs = this.now();
    if (!wasOnline) this.changed();
  }

  /** Head office answered the store's blacklist sync with this version. */
  blacklistSent(storeId: string, version: number): void {
    const contact = this.contact(storeId);
    const changed = contact.blacklistVersion !== version;
    contact.blacklistVersion = version;
    contact.blacklistSyncedAtMs = this.now();
    this.heard(storeId);
    if (changed) this.changed();
  }

  of(storeId: string): StoreContact & { online: boolean } {
    const contact = this.contacts.get(storeId) ?? { lastHeardAtMs: null, blacklistVersion: null, blacklistSyncedAtMs: null };
    return { ...contact, online: this.online(contact) };
  }

  /** Calls `listener` when a store comes online or changes its blacklist version (going silent is seen by polling `of`). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private online(contact: StoreContact): boolean {
    return contact.lastHeardAtMs !== null && this.now() - contact.lastHeardAtMs < this.offlineAfterMs;
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
