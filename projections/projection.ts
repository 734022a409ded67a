import type Database from 'better-sqlite3';
import { decodeEnvelope, decodeEvent, decodeOrThrow, isEventType, pb, type ChainHeadReceived, type DomainEvent, type EventEnvelope } from '../contracts/index.js';
import type { StoredRecord } from '../host/eventstore/index.js';

/** Where a record sits in the host event store. */
export interface RecordPlace {
  position: bigint;
  streamId: string;
  revision: bigint;
}

/** The record type the ingest and head office's writer store after each batch of an origin. */
export const CHAIN_HEAD_RECEIVED = 'ChainHeadReceived';

/** A host event store record as projections see it: a domain event with its envelope, or a received chain head. */
export type HostEvent =
  | (RecordPlace & { type: typeof CHAIN_HEAD_RECEIVED; data: ChainHeadReceived })
  | (RecordPlace & DomainEvent & { envelope: EventEnvelope });

/**
 * A read model. `schema` creates its tables (IF NOT EXISTS); `tables` names them so a rebuild can
 * drop them; bump `version` when the schema or the meaning of `apply` changes and the runner
 * rebuilds it from zero. `apply` runs inside the runner's transaction: synchronous, no I/O besides `db`.
 */
export interface Projection {
  name: string;
  version: number;
  schema: string;
  tables: readonly string[];
  apply(db: Database.Database, event: HostEvent): void;
}

/**
 * Decodes a stored record. Undefined for a record type these contracts do not know (written by
 * newer software); a known type with malformed bytes throws a ContractError naming its position.
 */
export function decodeRecord(record: StoredRecord): HostEvent | undefined {
  const place: RecordPlace = { position: record.position, streamId: record.streamId, revision: record.revision };
  const where = `record ${record.id} at position ${record.position} of stream ${record.streamId}`;
  if (record.type === CHAIN_HEAD_RECEIVED) {
    return { ...place, type: CHAIN_HEAD_RECEIVED, data: decodeOrThrow(`ChainHeadReceived ${where}`, () => pb.ChainHeadReceived.decode(record.data)) };
  }
  if (!isEventType(record.type)) return undefined;
  const envelope = decodeOrThrow(`envelope of ${where}`, () => decodeEnvelope(record.data));
  const event = decodeOrThrow(`${record.type} ${where}`, () => decodeEvent(envelope.eventType, envelope.payload));
  return { ...place, ...event, envelope } as HostEvent;
}

/** The origin a host stream belongs to: `store-<id>` → id, `hq` → "hq" (ARCHITECTURE.md). */
export function originOfStream(streamId: string): string | undefined {
  if (streamId === 'hq') return 'hq';
  return streamId.startsWith('store-') ? streamId.slice('store-'.length) : undefined;
}
