// Reads the fields of an EventEnvelope an audit needs straight from its bytes, without building a
// message object or decoding the fields nobody looks at (stream id, command id). The payload and
// prev_hash stay views into the stored bytes; the payload is decoded only by the checks that need it.
import { decodeEnvelope } from '../contracts/index.js';
import { WireReader } from './wire-reader.js';

export interface EnvelopeView {
  eventId: string;
  storeId: string;
  storeSeq: number;
  prevHash: Uint8Array;
  occurredAtMs: number;
  eventType: string;
  payload: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** Strings the envelope most likely holds (its record's id and type, its stream's origin). */
type Expected = Pick<EnvelopeView, 'eventId' | 'storeId' | 'eventType'>;

const NOTHING_EXPECTED: Expected = { eventId: '', storeId: '', eventType: '' };

/**
 * Throws the full decoder's error (a ContractError) for bytes that are not an envelope. A string
 * field equal to its `expected` value is given as that string, not decoded again: millions of
 * records, each would otherwise make three new strings.
 */
export function readEnvelope(data: Uint8Array, expected: Expected = NOTHING_EXPECTED): EnvelopeView {
  const view = scan(data, expected);
  if (view === undefined) {
    decodeEnvelope(data);
    throw new Error('malformed EventEnvelope');
  }
  return view;
}

const wire = new WireReader();

function scan(data: Uint8Array, expected: Expected): EnvelopeView | undefined {
  wire.reset(data);
  const view: EnvelopeView = { eventId: '', storeId: '', storeSeq: 0, prevHash: EMPTY, occurredAtMs: 0, eventType: '', payload: EMPTY };
  let read: number;
  while ((read = wire.next()) === 1) {
    if (wire.wire === 0) {
      if (wire.field === 3) view.storeSeq = wire.value;
      else if (wire.field === 5) view.occurredAtMs = wire.value;
    } else {
      switch (wire.field) {
        case 1:
          view.eventId = wire.text(expected.eventId);
          break;
        case 2:
          view.storeId = wire.text(expected.storeId);
          break;
        case 4:
          view.prevHash = wire.bytes.subarray(wire.start, wire.stop);
          break;
        case 6:
          view.eventType = wire.text(expected.eventType);
          break;
        case 7:
          view.payload = wire.bytes.subarray(wire.start, wire.stop);
          break;
        default:
          break;
      }
    }
  }
  return read === 0 ? view : undefined;
}
