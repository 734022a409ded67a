// One event under the magnifying glass: the event, its neighbours in its origin's chain, and the
// signed head that covers it — whether each link and the signature verify.
import { hash as digest } from 'node:crypto';
import { decodeEnvelope, decodeEvent, HQ_ORIGIN, pb, type ChainHead, type EventEnvelope } from '../contracts/index.js';
import { GENESIS_HASH, verifyHead } from '../contracts/index.js';
import type { KeyRing } from './keys.js';
import type { AuditRecord, RecordSource } from './records.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream } from '../eventstore/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const sha256 = (bytes: Uint8Array) => digest('sha256', bytes, 'buffer') as unknown as Buffer;

export interface ChainNeighbour {
  seq: number;
  eventId: string;
  eventType: string;
  position: string;
  hash: string;
}

export interface CoveringHead {
  seq: number;
  keyId: string;
  position: string;
  hash: string;
  receivedAt: string;
  /** The signature verifies with a key registered for the origin. */
  signatureValid: boolean;
  /** Every link from the event up to the head's sequence verifies and ends in the signed hash. */
  coversEvent: boolean;
}

export interface VerifiedEvent {
  ok: boolean;
  event: {
    eventId: string;
    origin: string;
    seq: number;
    eventType: string;
    streamId: string;
    commandId: string;
    occurredAt: string;
    position: string;
    hash: string;
    prevHash: string;
    data: unknown;
  };
  previous: ChainNeighbour | undefined;
  /** "genesis" for the first event, "ok" or "broken" for the link to the previous event, "missing" without one. */
  previousLink: 'genesis' | 'ok' | 'broken' | 'missing';
  next: ChainNeighbour | undefined;
  /** "none" while no event follows. */
  nextLink: 'ok' | 'broken' | 'none';
  head: CoveringHead | undefined;
  problems: string[];
}

interface Seen {
  record: AuditRecord;
  envelope: EventEnvelope;
  hash: Buffer;
}

const neighbour = ({ record, envelope, hash }: Seen): ChainNeighbour => ({
  seq: envelope.storeSeq,
  eventId: envelope.eventId,
  eventType: envelope.eventType,
  position: String(record.position),
  hash: hex(hash),
});

/** Bytes as hex, so decoded events print as JSON. */
function printable(value: unknown): unknown {
  if (value instanceof Uint8Array) return hex(value);
  if (Array.isArray(value)) return value.map(printable);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, printable(v)]));
  return value;
}

/**
 * Finds the event with `eventId` in `origin`'s chain (any origin's when undefined) and checks it in
 * its chain. Event ids are unique within an origin's stream only: without an origin the whole
 * history is read, and an id held by more than one origin is an error naming them. Store keys
 * registered in the `hq` stream are learnt while reading; `keys` holds the rest (head office's own
 * key, an export's keys). Resolves undefined when no such event is stored.
 */
export async function verifyEvent(
  source: RecordSource,
  eventId: string,
  keys: KeyRing,
  origin?: string,
): Promise<VerifiedEvent | undefined> {
  const lastByStream = new Map<string, Seen>();
  let target: Seen | undefined;
  let previous: Seen | undefined;
  const following: Seen[] = [];
  let head: { head: ChainHead; record: AuditRecord } | undefined;
  /** Other origins holding a record with the id. */
  const alsoIn = new Set<string>();
  /** The event's successor and the head that covers it are all that is needed; what is left is only searched for the id. */
  let complete = false;

  reading: for await (const batch of source.batches()) {
    for (const record of batch) {
      const recordOrigin = originOfStream(record.streamId);
      if (recordOrigin === undefined) continue;
      if (target !== undefined && (complete || recordOrigin !== target.envelope.storeId)) {
        if (record.id === eventId && recordOrigin !== target.envelope.storeId && record.type !== CHAIN_HEAD_RECORD_TYPE)
          alsoIn.add(recordOrigin);
        continue;
      }
      // Before the event is found, only its own origin's chain and head office's key registrations matter.
      if (origin !== undefined && recordOrigin !== origin && recordOrigin !== HQ_ORIGIN) continue;
      if (record.type === CHAIN_HEAD_RECORD_TYPE) {
        if (target === undefined || head !== undefined) continue;
        const candidate = pb.ChainHeadReceived.decode(record.data).head as ChainHead | null;
        if (candidate && candidate.storeSeq >= target.envelope.storeSeq) head = { head: candidate, record };
        if (head !== undefined && following.length > 0) {
          if (origin !== undefined) break reading;
          complete = true;
        }
        continue;
      }
      let envelope: EventEnvelope;
      try {
        envelope = decodeEnvelope(record.data);
      } catch {
        continue;
      }
      const seen = { record, envelope, hash: sha256(record.data) };
      if (recordOrigin === HQ_ORIGIN && envelope.eventType === 'StoreKeyRegistered') {
        const event = decodeEvent(envelope.eventType, envelope.payload);
        if (event.type === 'StoreKeyRegistered' && event.data.storeId !== HQ_ORIGIN)
          keys.add({ storeId: event.data.storeId, keyId: event.data.keyId, publicKey: event.data.publicKey });
      }
      if (target !== undefined) {
        following.push(seen);
        if (head !== undefined) {
          if (origin !== undefined) break reading;
          complete = true;
        }
      } else if ((origin === undefined || recordOrigin === origin) && (envelope.eventId === eventId || record.id === eventId)) {
        target = seen;
        previous = lastByStream.get(record.streamId);
      } else {
        lastByStream.set(record.streamId, seen);
      }
    }
  }
  if (target !== undefined && alsoIn.size > 0) {
    const origins = [target.envelope.storeId, ...alsoIn].join(', ');
    throw new Error(`event id ${eventId} is held by more than one origin (${origins}): name the one to verify with --store <id>`);
  }
  if (target === undefined) return undefined;

  const problems: string[] = [];
  const { envelope, record } = target;
  const targetOrigin = envelope.storeId;
  let previousLink: VerifiedEvent['previousLink'];
  if (envelope.storeSeq === 1) {
    previousLink = Buffer.from(envelope.prevHash).equals(GENESIS_HASH) ? 'genesis' : 'broken';
    if (previousLink === 'broken') problems.push('the first event of its origin does not start from the genesis hash');
  } else if (previous === undefined || previous.envelope.storeSeq !== envelope.storeSeq - 1) {
    previousLink = 'missing';
    problems.push(
      `seq ${envelope.storeSeq - 1} is not stored right before this event${previous ? ` (seq ${previous.envelope.storeSeq} is)` : ''}`,
    );
  } else {
    previousLink = previous.hash.equals(envelope.prevHash) ? 'ok' : 'broken';
    if (previousLink === 'broken') problems.push(`prev_hash does not match the SHA-256 of seq ${previous.envelope.storeSeq}`);
  }

  const next = following[0];
  let nextLink: VerifiedEvent['nextLink'] = 'none';
  if (next !== undefined) {
    nextLink = next.envelope.storeSeq === envelope.storeSeq + 1 && target.hash.equals(next.envelope.prevHash) ? 'ok' : 'broken';
    if (nextLink === 'broken')
      problems.push(
        `the event stored next (seq ${next.envelope.storeSeq}) does not link to this one: this event or its successor was changed, or events are missing or reordered`,
      );
  }

  let covering: CoveringHead | undefined;
  if (head === undefined) {
    problems.push(`no signed head of ${targetOrigin} covers seq ${envelope.storeSeq}`);
  } else {
    const key = keys.get(targetOrigin, head.head.keyId);
    const signatureValid = key !== undefined && verifyHead(key, head.head);
    if (!signatureValid)
      problems.push(
        key
          ? `the head's signature does not verify with key ${head.head.keyId}`
          : `key ${head.head.keyId} is not registered for ${targetOrigin}`,
      );
    // Walk the chain from the event to the head's sequence.
    let last = target;
    let linked = true;
    for (const seen of following) {
      if (seen.envelope.storeSeq > head.head.storeSeq) break;
      if (seen.envelope.storeSeq !== last.envelope.storeSeq + 1 || !last.hash.equals(seen.envelope.prevHash)) linked = false;
      last = seen;
    }
    const coversEvent = linked && last.envelope.storeSeq === head.head.storeSeq && last.hash.equals(head.head.hash);
    if (!coversEvent) problems.push(`the chain from this event does not end in the hash the head of seq ${head.head.storeSeq} signed`);
    const received = pb.ChainHeadReceived.decode(head.record.data);
    covering = {
      seq: head.head.storeSeq,
      keyId: head.head.keyId,
      position: String(head.record.position),
      hash: hex(head.head.hash),
      receivedAt: new Date(received.receivedAtMs).toISOString(),
      signatureValid,
      coversEvent,
    };
  }

  let data: unknown;
  try {
    data = printable(decodeEvent(envelope.eventType, envelope.payload).data);
  } catch (error) {
    problems.push((error as Error).message);
    data = { payload: hex(envelope.payload) };
  }
  return {
    ok: problems.length === 0,
    event: {
      eventId: envelope.eventId,
      origin: targetOrigin,
      seq: envelope.storeSeq,
      eventType: envelope.eventType,
      streamId: envelope.streamId,
      commandId: envelope.commandId,
      occurredAt: new Date(envelope.occurredAtMs).toISOString(),
      position: String(record.position),
      hash: hex(target.hash),
      prevHash: hex(envelope.prevHash),
      data,
    },
    previous: previous && neighbour(previous),
    previousLink,
    next: next && neighbour(next),
    nextLink,
    head: covering,
    problems,
  };
}
