// The card holder's PIN for a credit of the card (a load or a refund): opened from the command's PIN
// block only to be presented to the card, which keeps the try count. A wrong or blocked PIN ends
// the operation with a recorded decline.
import { PinBlockError } from '../../contracts/index.js';
import { CardStatusError } from '../../reader/index.js';
import { pinOf, type PosOutcome, type PosRequest } from '../pos/index.js';
import { Refused, type InsertedCard, type PurseCounter } from './purse-counter.js';

/** Verifies the PIN on the card; the decline to answer with when the card refuses it. */
export async function presentPin(
  counter: PurseCounter,
  card: InsertedCard,
  request: PosRequest,
  operation: { kind: 'load' | 'refund'; amount: number; pinBlock: Uint8Array | null | undefined },
): Promise<PosOutcome | undefined> {
  try {
    await card.terminal.verifyPin(openPinBlock(counter, request, operation.pinBlock));
    return undefined;
  } catch (error) {
    const tries = error instanceof CardStatusError ? error.pinTriesLeft : undefined;
    if (tries === undefined) throw error;
    const refusal =
      tries === 0
        ? {
            code: 'pin_blocked',
            message: `PIN blocked after too many wrong tries: this card can no longer be ${operation.kind === 'load' ? 'loaded' : 'refunded'}`,
          }
        : { code: 'wrong_pin', message: `wrong PIN: ${tries} ${tries === 1 ? 'try' : 'tries'} left` };
    return counter.decline(request, card.info.cardId, operation.kind, operation.amount, refusal, card.facts.balance);
  }
}

function openPinBlock(counter: PurseCounter, request: PosRequest, pinBlock: Uint8Array | null | undefined): string {
  try {
    const pin = pinOf(counter.options, request, pinBlock);
    if (!/^\d{4,8}$/.test(pin)) throw new PinBlockError('PIN must be 4 to 8 digits');
    return pin;
  } catch (error) {
    if (error instanceof PinBlockError) throw Refused.because('bad_request', `PIN block: ${error.message}`);
    throw error;
  }
}
