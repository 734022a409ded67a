// Reads the fields of an EventEnvelope an audit needs straight from its bytes, without building a
// message object or decoding the fields nobody looks at (stream id, command id). The payload and
// prev_hash stay views into the stored bytes; the payload is decoded only by the checks that need it.
import { decodeEnvelope } from '../contracts/index.js';

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

/** Whether bytes `at`..`stop` are `text` (ASCII only; anything else is decoded). */
function holds(buffer: Buffer, at: number, stop: number, text: string): boolean {
  if (stop - at !== text.length) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f || buffer[at + i] !== code) return false;
  }
  return true;
}

const stringAt = (buffer: Buffer, at: number, stop: number, expected: string) =>
  holds(buffer, at, stop, expected) ? expected : buffer.toString('utf8', at, stop);

function scan(data: Uint8Array, expected: Expected): EnvelopeView | undefined {
  // The event store hands Buffers already: a view is made only for a plain Uint8Array.
  const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const view: EnvelopeView = { eventId: '', storeId: '', storeSeq: 0, prevHash: EMPTY, occurredAtMs: 0, eventType: '', payload: EMPTY };
  const end = buffer.length;
  let at = 0;
  while (at < end) {
    // Tags and lengths: varints of at most 5 bytes here (field numbers < 16, lengths < 2^32).
    let tag = 0;
    let shift = 0;
    let byte: number;
    do {
      if (at >= end || shift > 28) return undefined;
      byte = buffer[at++]!;
      tag |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80);
    const field = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) {
      let value = 0;
      let multiplier = 1;
      do {
        if (at >= end || multiplier > 2 ** 63) return undefined;
        byte = buffer[at++]!;
        value += (byte & 0x7f) * multiplier;
        multiplier *= 128;
      } while (byte & 0x80);
      if (field === 3) view.storeSeq = value;
      else if (field === 5) view.occurredAtMs = value;
    } else if (wire === 2) {
      let length = 0;
      shift = 0;
      do {
        if (at >= end || shift > 28) return undefined;
        byte = buffer[at++]!;
        length |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      const stop = at + length;
      if (length < 0 || stop > end) return undefined;
      switch (field) {
        case 1:
          view.eventId = stringAt(buffer, at, stop, expected.eventId);
          break;
        case 2:
          view.storeId = stringAt(buffer, at, stop, expected.storeId);
          break;
        case 4:
          view.prevHash = buffer.subarray(at, stop);
          break;
        case 6:
          view.eventType = stringAt(buffer, at, stop, expected.eventType);
          break;
        case 7:
          view.payload = buffer.subarray(at, stop);
          break;
        default:
          break;
      }
      at = stop;
    } else if (wire === 1) {
      at += 8;
    } else if (wire === 5) {
      at += 4;
    } else {
      return undefined;
    }
  }
  return at === end ? view : undefined;
}
