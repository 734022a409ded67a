// How an origin's chain sits in the host event store: one stream per origin, its envelopes in
// sequence, each append closed by one ChainHeadReceived record.
import { createHash } from 'node:crypto';
import { decodeEnvelope, decodeOrThrow, HQ_ORIGIN, pb, type ChainHead, type ChainHeadReceived } from '../contracts/index.js';
import { GENESIS_HASH, hashEnvelope } from '../contracts/index.js';
import type { EventStore, ExpectedRevision, NewRecord } from './event-store.js';

export const CHAIN_HEAD_RECORD_TYPE = 'ChainHeadReceived';
const STORE_STREAM_PREFIX = 'store-';

/** The event-store stream of an origin: `store-<storeId>`, or `hq` for head office. */
export function originStreamName(origin: string): string {
  return origin === HQ_ORIGIN ? HQ_ORIGIN : `${STORE_STREAM_PREFIX}${origin}`;
}

/** The origin a host stream belongs to: `store-<id>` → id, `hq` → "hq"; undefined for other streams. */
export function originOfStream(streamId: string): string | undefined {
  if (streamId === HQ_ORIGIN) return HQ_ORIGIN;
  return streamId.startsWith(STORE_STREAM_PREFIX) ? streamId.slice(STORE_STREAM_PREFIX.length) : undefined;
}

/** Where an origin's chain stands in the event store. */
export interface OriginTail {
  lastSeq: number;
  lastHash: Uint8Array;
  /** Expected revision for the next append. */
  revision: ExpectedRevision;
}

export async function readOriginTail(store: EventStore, origin: string): Promise<OriginTail> {
  const streamId = originStreamName(origin);
  const revision = await store.streamRevision(streamId);
  if (revision === undefined) return { lastSeq: 0, lastHash: GENESIS_HASH, revision: 'no_stream' };
  const [last] = await store.readStream(streamId, { fromRevision: revision, maxCount: 1 });
  if (!last) throw new Error(`stream ${streamId}: revision ${revision} is reported but cannot be read`);
  if (last.type === CHAIN_HEAD_RECORD_TYPE) {
    const head = decodeChainHeadReceived(last.data).head as ChainHead | null;
    if (!head) throw new Error(`stream ${streamId}: ChainHeadReceived at revision ${revision} has no head`);
    return { lastSeq: head.storeSeq, lastHash: head.hash, revision };
  }
  const envelope = decodeEnvelope(last.data);
  return { lastSeq: envelope.storeSeq, lastHash: hashEnvelope(last.data), revision };
}

function decodeChainHeadReceived(bytes: Uint8Array): ChainHeadReceived {
  return decodeOrThrow('ChainHeadReceived', () => pb.ChainHeadReceived.decode(bytes));
}

/** The record that closes an append: the origin's signed head as received. */
export function chainHeadRecord(head: ChainHead, localHeadSeq: number, receivedAt = new Date()): NewRecord {
  return {
    id: chainHeadRecordId(head),
    type: CHAIN_HEAD_RECORD_TYPE,
    data: pb.ChainHeadReceived.encode({ head, localHeadSeq, receivedAtMs: receivedAt.getTime() }).finish(),
  };
}

/** A UUID derived from (origin, sequence): a head recorded twice would be refused as a duplicate id. */
function chainHeadRecordId(head: ChainHead): string {
  const digest = createHash('sha256').update(`${CHAIN_HEAD_RECORD_TYPE}:${head.storeId}:${head.storeSeq}`).digest();
  digest[6] = (digest[6]! & 0x0f) | 0x80;
  digest[8] = (digest[8]! & 0x3f) | 0x80;
  const hex = digest.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
