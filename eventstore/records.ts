// The one decoder of stored records: what a record of the host event store means to the parts
// that read it (projections, head office's own state, the API's event views).
import {
  decodeEnvelope,
  decodeEvent,
  decodeOrThrow,
  isEventType,
  mayWrite,
  pb,
  type ChainHeadReceived,
  type DomainEvent,
  type EventEnvelope,
} from '../contracts/index.js';
import type { StoredRecord } from './event-store.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream } from './stream-layout.js';

/** Where a record sits in the host event store. */
export interface RecordPlace {
  position: bigint;
  streamId: string;
  revision: bigint;
}

/** A stored record decoded: a domain event with its envelope, or a received chain head. */
export type HostEvent =
  | (RecordPlace & { type: typeof CHAIN_HEAD_RECORD_TYPE; data: ChainHeadReceived })
  | (RecordPlace & DomainEvent & { envelope: EventEnvelope });

/** A domain event from the host event store with the envelope it came in. */
export interface FedEvent {
  envelope: EventEnvelope;
  event: DomainEvent;
  position: bigint;
}

const whereOf = (record: StoredRecord) => `record ${record.id} at position ${record.position} of stream ${record.streamId}`;

/**
 * Decodes a stored record. Undefined for a record type these contracts do not know (written by
 * newer software); a known type with malformed bytes throws a ContractError naming its position.
 */
export function decodeRecord(record: StoredRecord): HostEvent | undefined {
  const place: RecordPlace = { position: record.position, streamId: record.streamId, revision: record.revision };
  if (record.type === CHAIN_HEAD_RECORD_TYPE) {
    return {
      ...place,
      type: CHAIN_HEAD_RECORD_TYPE,
      data: decodeOrThrow(`ChainHeadReceived ${whereOf(record)}`, () => pb.ChainHeadReceived.decode(record.data)),
    };
  }
  const fed = decodeDomainRecord(record);
  return fed && ({ ...place, ...fed.event, envelope: fed.envelope } as HostEvent);
}

function decodeDomainRecord(record: StoredRecord): FedEvent | undefined {
  if (!isEventType(record.type)) return undefined;
  // An event outside its origin's types (a store writing head office's facts) is nobody's fact:
  // ingest refuses such batches, and the audit reports any that are stored.
  const origin = originOfStream(record.streamId);
  if (origin !== undefined && !mayWrite(origin, record.type)) return undefined;
  const where = whereOf(record);
  const envelope = decodeOrThrow(`envelope of ${where}`, () => decodeEnvelope(record.data));
  const event = decodeOrThrow(`${record.type} ${where}`, () => decodeEvent(envelope.eventType, envelope.payload));
  return { envelope, event, position: record.position };
}

/**
 * The domain events in a batch of stored records, optionally only the wanted types; chain-head
 * records and event types this build does not know are passed over.
 */
export function domainEventsOf(records: StoredRecord[], wanted?: ReadonlySet<string>): FedEvent[] {
  const out: FedEvent[] = [];
  for (const record of records) {
    if (wanted && !wanted.has(record.type)) continue;
    const fed = decodeDomainRecord(record);
    if (fed) out.push(fed);
  }
  return out;
}
