// The host event store: streams of opaque event records with optimistic concurrency, a global
// order over all streams, and catch-up subscriptions from a checkpoint. Every adapter passes the
// same contract suite (test/host/event-store.contract.ts).

/**
 * An event to append. `id` is the envelope's event id, unique within its stream: appending an id
 * the stream already holds is refused. Another stream may hold the same id, so no origin can block
 * another's appends by putting that origin's next ids into its own events.
 */
export interface NewRecord {
  id: string;
  type: string;
  data: Uint8Array;
}

/** An event as stored. */
export interface StoredRecord extends NewRecord {
  streamId: string;
  /** 0-based position within its stream. */
  revision: bigint;
  /** Position in the store's global order; increases with every append, may skip numbers. */
  position: bigint;
}

/**
 * What the stream must look like for an append to go ahead: `'no_stream'` (it must not exist),
 * `'any'`, or the revision of its last event.
 */
export type ExpectedRevision = bigint | 'no_stream' | 'any';

export interface AppendResult {
  /** Revision of the last appended event: the expected revision for the next append. */
  nextExpectedRevision: bigint;
  /** Global position of the last appended event. */
  lastPosition: bigint;
}

export interface ReadStreamOptions {
  fromRevision?: bigint;
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Read events whose position is strictly greater than this (a checkpoint); default: from the start. */
  after?: bigint;
  maxCount?: number;
}

export interface Subscription {
  /** Stops delivering and resolves when the handler is no longer running. */
  stop(): Promise<void>;
  /**
   * Settles when the subscription ends: resolves after stop() or when the store closed, rejects
   * with the handler's error if the handler threw.
   */
  readonly done: Promise<void>;
}

export interface SubscribeOptions {
  /** Deliver events after this position; undefined delivers from the start. */
  after?: bigint;
  /** Handles events in global order, one batch at a time; the next batch waits for it. */
  handler: (records: StoredRecord[]) => Promise<void> | void;
  /** Largest batch handed to the handler. */
  batchSize?: number;
}

export interface EventStore {
  appendToStream(streamId: string, records: NewRecord[], expected?: ExpectedRevision): Promise<AppendResult>;
  /** Events of one stream in revision order; an unknown stream reads as empty. */
  readStream(streamId: string, options?: ReadStreamOptions): Promise<StoredRecord[]>;
  /** Revision of the stream's last event, or undefined if the stream does not exist. */
  streamRevision(streamId: string): Promise<bigint | undefined>;
  /** Events across all streams in global order. */
  readAll(options?: ReadAllOptions): Promise<StoredRecord[]>;
  /** Global position of the last stored event, or undefined while the store is empty (for lag and progress). */
  headPosition(): Promise<bigint | undefined>;
  /** Catch-up subscription: delivers everything after the checkpoint, then new events as they come. */
  subscribeToAll(options: SubscribeOptions): Subscription;
  close(): Promise<void>;
}

/** The stream was not where the append expected it: someone else wrote first. */
export class WrongExpectedRevisionError extends Error {
  override name = 'WrongExpectedRevisionError';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: bigint | undefined,
  ) {
    super(`stream ${streamId}: expected revision ${String(expected)}, actual ${actual === undefined ? 'no stream' : String(actual)}`);
  }
}

/** The stream already holds an event with this id (or the append repeats it). */
export class DuplicateEventError extends Error {
  override name = 'DuplicateEventError';
  constructor(
    readonly streamId: string,
    readonly eventId: string,
  ) {
    super(`stream ${streamId} already holds event ${eventId}`);
  }
}
