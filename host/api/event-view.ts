import { CHAIN_HEAD_RECORD_TYPE, type HostEvent } from '../../eventstore/index.js';

/** A stored event as the API shows it: envelope fields, ISO 8601 UTC time, bytes as hex. */
export interface EventView {
  position: string;
  streamId: string;
  eventId: string;
  origin: string;
  originSeq: number;
  type: string;
  occurredAt: string;
  aggregate: string;
  commandId: string | null;
  data: unknown;
}

/** Plain JSON of decoded protobuf fields: byte strings become hex, nested messages recurse. */
function jsonOf(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(jsonOf);
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonOf(item)]));
  return value;
}

export function eventView(event: HostEvent): EventView | undefined {
  if (event.type === CHAIN_HEAD_RECORD_TYPE) return undefined;
  const { envelope } = event;
  return {
    position: event.position.toString(),
    streamId: event.streamId,
    eventId: envelope.eventId,
    origin: envelope.storeId,
    originSeq: envelope.storeSeq,
    type: event.type,
    occurredAt: new Date(envelope.occurredAtMs).toISOString(),
    aggregate: envelope.streamId,
    commandId: envelope.commandId || null,
    data: jsonOf(event.data),
  };
}
