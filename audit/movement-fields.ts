// Reads the fields of a PurseLoaded or PursePaid payload the purse checks need straight from its
// bytes, as envelope-view.ts does for envelopes: a replay reads millions of them, and the generic
// decoder's message object, reader and copy of the card MAC per movement are most of the purse
// checks' cost. The MAC stays where it lies in the payload. Bytes this reader does not take (an
// unknown wire type, a truncated field) go to the generic decoder, which names what is wrong; a
// check against it on first use guards the two from drifting apart.
import { pb } from '../contracts/index.js';
import { WireReader } from './wire-reader.js';

export interface MovementFields {
  cardId: string;
  amount: number;
  newBalance: number;
  cardCounter: number;
  /** Loads only ('' when absent, as the generic decoder gives it). */
  authorizationId: string;
  storeId: string;
  terminalId: string;
  /** Where card_mac lies in the payload. */
  macAt: number;
  macLength: number;
}

/** Field numbers, from events.proto. */
interface Numbers {
  cardId: number;
  amount: number;
  newBalance: number;
  cardCounter: number;
  authorizationId: number;
  cardMac: number;
  storeId: number;
  terminalId: number;
}

const LOADED: Numbers = { cardId: 1, amount: 2, newBalance: 3, cardCounter: 4, authorizationId: 5, cardMac: 6, storeId: 7, terminalId: 8 };
// PursePaid has no authorisation (field 0 never occurs).
const PAID: Numbers = { cardId: 1, amount: 2, newBalance: 3, cardCounter: 4, authorizationId: 0, cardMac: 5, storeId: 6, terminalId: 7 };

const wire = new WireReader();
let checkedAgainstDecoder = false;

/**
 * The fields of a PurseLoaded (`load`) or PursePaid payload into `into`; false when the bytes are
 * not what this reader takes (the caller decodes them the generic way). `likely` strings are
 * given back as they are when the bytes hold them (no new string per movement).
 */
export function readMovementFields(
  payload: Uint8Array,
  load: boolean,
  into: MovementFields,
  likely: { storeId: string; terminalId: string },
): boolean {
  if (!checkedAgainstDecoder) assertSameAsDecoder();
  const numbers = load ? LOADED : PAID;
  // The generic decoder reads strings from a Buffer as Buffer.toString does: so does this reader.
  wire.reset(payload);
  into.cardId = '';
  into.amount = 0;
  into.newBalance = 0;
  into.cardCounter = 0;
  into.authorizationId = '';
  into.storeId = '';
  into.terminalId = '';
  into.macAt = 0;
  into.macLength = 0;
  let read: number;
  while ((read = wire.next()) === 1) {
    const field = wire.field;
    if (wire.wire === 0) {
      if (field === numbers.amount) into.amount = wire.value;
      else if (field === numbers.newBalance) into.newBalance = wire.value;
      else if (field === numbers.cardCounter) into.cardCounter = wire.value;
    } else if (field === numbers.cardId) into.cardId = wire.text('');
    else if (field === numbers.cardMac) {
      into.macAt = wire.start;
      into.macLength = wire.stop - wire.start;
    } else if (field === numbers.storeId) into.storeId = wire.text(likely.storeId);
    else if (field === numbers.terminalId) into.terminalId = wire.text(likely.terminalId);
    else if (field === numbers.authorizationId) into.authorizationId = wire.text('');
  }
  return read === 0;
}

/** The reader must give what the generic decoder gives, or the purse checks would judge wrongly. */
function assertSameAsDecoder(): void {
  checkedAgainstDecoder = true;
  const common = {
    cardId: '0123456789abcdef',
    amount: 10_000,
    newBalance: 2 ** 40 + 3,
    cardCounter: 300,
    cardMac: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
    storeId: 'store-ü',
    terminalId: 'fedcba9876543210',
    recovered: true,
  };
  const cases = [
    { load: true, bytes: pb.PurseLoaded.encode({ ...common, authorizationId: 'auth-1' }).finish() },
    { load: false, bytes: pb.PursePaid.encode(common).finish() },
  ];
  for (const { load, bytes } of cases) {
    const decoded = (load ? pb.PurseLoaded : pb.PursePaid).decode(bytes) as unknown as Record<string, unknown> & { cardMac: Uint8Array };
    const fields = {} as MovementFields;
    const read = readMovementFields(bytes, load, fields, { storeId: '', terminalId: common.terminalId });
    const same =
      read &&
      fields.cardId === decoded.cardId &&
      fields.amount === decoded.amount &&
      fields.newBalance === decoded.newBalance &&
      fields.cardCounter === decoded.cardCounter &&
      fields.authorizationId === (load ? decoded.authorizationId : '') &&
      fields.storeId === decoded.storeId &&
      fields.terminalId === decoded.terminalId &&
      Buffer.from(bytes.subarray(fields.macAt, fields.macAt + fields.macLength)).equals(decoded.cardMac);
    if (!same) throw new Error('the audit reads purse movements differently from their protobuf schema: update audit/movement-fields.ts');
  }
}
