import { randomUUID } from 'node:crypto';
import {
  encodeBatch,
  encodeEnvelope,
  GENESIS_HASH,
  hashEnvelope,
  pb,
  sealEnvelope,
  signHead,
  type EventEnvelope,
  type NewDomainEvent,
  type SigningKey,
} from '../../contracts/index.js';
import { CHAIN_HEAD_RECORD_TYPE, type EventStore, type NewRecord } from '../../eventstore/index.js';

/** One envelope of a chain: its exact bytes (what gets hashed and stored) and its fields. */
export interface ChainedEnvelope {
  bytes: Uint8Array;
  envelope: EventEnvelope;
  /** The envelope as a host event store record (type = event type, id = event id). */
  record: NewRecord;
}

export interface NextOptions {
  /** The envelope's event id (default: a fresh UUID), e.g. one another origin already uses. */
  eventId?: string;
  streamId?: string;
  commandId?: string;
  occurredAt?: Date;
}

/**
 * Builds a valid hash chain of envelopes for one origin (a store id or "hq"), the way an edge log
 * or head office's writer would: gap-free sequence from 1, prev_hash = SHA-256 of the previous
 * envelope's bytes. Heads are left unsigned.
 */
export class EnvelopeChain {
  seq = 0;
  headHash: Uint8Array = GENESIS_HASH;

  constructor(readonly origin: string) {}

  next(event: NewDomainEvent, options: NextOptions = {}): ChainedEnvelope {
    let sealed = sealEnvelope(this.origin, this.seq + 1, this.headHash, {
      event,
      streamId: options.streamId ?? defaultStreamId(event),
      commandId: options.commandId,
      occurredAt: options.occurredAt,
    });
    if (options.eventId !== undefined) {
      const envelope = { ...sealed.envelope, eventId: options.eventId };
      const bytes = encodeEnvelope(envelope);
      sealed = { envelope, bytes, hash: hashEnvelope(bytes) };
    }
    this.seq += 1;
    this.headHash = sealed.hash;
    const { envelope, bytes } = sealed;
    return { bytes, envelope, record: { id: envelope.eventId, type: event.type, data: bytes } };
  }

  /** The next events as the EventBatch an edge publishes, its head signed with the origin's key. */
  batch(
    events: NewDomainEvent[],
    signingKey: SigningKey,
    options: { localHeadSeq?: number; eventIds?: Array<string | undefined> } = {},
  ): { bytes: Uint8Array; chained: ChainedEnvelope[] } {
    const chained = events.map((event, i) => this.next(event, { eventId: options.eventIds?.[i] }));
    const head = signHead(signingKey, { storeId: this.origin, storeSeq: this.seq, hash: this.headHash });
    const bytes = encodeBatch({
      storeId: this.origin,
      events: chained.map((c) => c.bytes),
      head,
      localHeadSeq: options.localHeadSeq ?? this.seq,
    });
    return { bytes, chained };
  }

  /** The ChainHeadReceived record the ingest stores after a batch, covering the chain so far. */
  chainHeadRecord(options: { localHeadSeq?: number; receivedAt?: Date } = {}): NewRecord {
    const data = pb.ChainHeadReceived.encode({
      head: { storeId: this.origin, storeSeq: this.seq, hash: this.headHash, keyId: 'test', signature: new Uint8Array(64) },
      localHeadSeq: options.localHeadSeq ?? this.seq,
      receivedAtMs: (options.receivedAt ?? new Date()).getTime(),
    }).finish();
    return { id: randomUUID(), type: CHAIN_HEAD_RECORD_TYPE, data };
  }
}

function defaultStreamId(event: NewDomainEvent): string {
  const data = event.data as { cardId?: string | null; userId?: string | null };
  if (data.cardId) return `card-${data.cardId}`;
  if (data.userId) return `user-${data.userId}`;
  return event.type;
}

/** The host stream of an origin (ARCHITECTURE.md: store-<id>, or hq). */
const originStream = (origin: string) => (origin === 'hq' ? 'hq' : `store-${origin}`);

/**
 * Appends the next events of the chain to the origin's host stream as the ingest does: the
 * envelopes, then one ChainHeadReceived record, with the expected revision.
 */
export async function appendChainBatch(
  store: EventStore,
  chain: EnvelopeChain,
  events: NewDomainEvent[],
  options: { localHeadSeq?: number; receivedAt?: Date; occurredAt?: Date } = {},
): Promise<ChainedEnvelope[]> {
  const stream = originStream(chain.origin);
  const chained = events.map((event) => chain.next(event, { occurredAt: options.occurredAt }));
  const expected = (await store.streamRevision(stream)) ?? 'no_stream';
  await store.appendToStream(stream, [...chained.map((c) => c.record), chain.chainHeadRecord(options)], expected);
  return chained;
}
