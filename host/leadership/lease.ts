// The writer lease: which head-office instance writes (head office's `hq` stream, the ingest of
// stores' batches, the inquiry centre, the snapshot publisher) when several share one event store.

/** Who holds the lease, as every instance can see it. */
export interface LeaseHolder {
  /** Host name and process id of the holder. */
  instance: string;
  /** Where the holder serves the API. */
  apiUrl: string;
  /** 1 for the first holder on this event store, one more for each later one. */
  term: number;
  /** When it took the lease (ISO 8601 UTC). */
  since: string;
}

/** The lease while this instance holds it. */
export interface HeldLease {
  holder: LeaseHolder;
  /** Resolves with the reason once the lease is lost (its session ended, the server stopped answering). */
  lost: Promise<string>;
  /** Gives the lease up (idempotent). */
  release(): Promise<void>;
}

export interface WriterLease {
  /**
   * Whether other instances may hold it: their writer terms are then recorded in `hq`
   * (HeadOfficeWriterStarted), which fences a former writer's appends.
   */
  readonly shared: boolean;
  /** Takes the lease if no one holds it; undefined when another instance does. */
  tryAcquire(me: { instance: string; apiUrl: string }): Promise<HeldLease | undefined>;
  /** The holder now, or undefined while the lease is free. */
  holder(): Promise<LeaseHolder | undefined>;
  close(): Promise<void>;
}

/**
 * The lease of a head office that is one process (SQLite: the event store is a file of this
 * machine; EventStoreDB: no lease is implemented): always this instance's, never lost.
 */
export function soleInstanceLease(): WriterLease {
  let held: LeaseHolder | undefined;
  return {
    shared: false,
    async tryAcquire(me) {
      held = { ...me, term: 1, since: new Date().toISOString() };
      return {
        holder: held,
        lost: new Promise<string>(() => undefined),
        release: async () => undefined,
      };
    },
    async holder() {
      return held;
    },
    async close() {},
  };
}
