import { CHAIN_HEAD_RECORD_TYPE } from '../ingest/index.js';
import { decodeEnvelope, decodeEvent, isEventType, type DomainEvent, type EventEnvelope } from '../../contracts/index.js';
import type { StoredRecord } from '../eventstore/index.js';

/** A domain event from the host event store with the envelope it came in. */
export interface FedEvent {
  envelope: EventEnvelope;
  event: DomainEvent;
  position: bigint;
}

/**
 * Decodes the domain events in a batch of stored records; chain-head records and event types this
 * build does not know are passed over.
 */
export function domainEventsOf(records: StoredRecord[], wanted?: ReadonlySet<string>): FedEvent[] {
  const out: FedEvent[] = [];
  for (const record of records) {
    if (record.type === CHAIN_HEAD_RECORD_TYPE || !isEventType(record.type)) continue;
    if (wanted && !wanted.has(record.type)) continue;
    const envelope = decodeEnvelope(record.data);
    out.push({ envelope, event: decodeEvent(envelope.eventType, envelope.payload), position: record.position });
  }
  return out;
}
