// The card holder's PIN at the counter (head office's side: host/purse/pin-unblocks.ts). Unblock:
// the chip's PIN reset counter read, head office asked with the holder's name and birth date as the
// clerk checked them, RESET RETRY COUNTER sent with its unblock MAC and the new PIN, PinUnblocked
// recorded. Change: CHANGE REFERENCE DATA with the old PIN (the card checks it, counting a wrong one
// like VERIFY PIN) and the new one, PinChanged recorded. The PINs come as PIN blocks, are opened
// only to go to the card under secure messaging, and are kept nowhere.
import { checkCardUsable } from '../../domain/index.js';
import { newAuthorisationId, toHex } from '../../card/index.js';
import { CardRemovedError } from '../../reader/index.js';
import type { PosOutcome, PosRequest } from '../pos/index.js';
import { insertCard } from './insertion.js';
import { pinRefusal, Refused, type InsertedCard, type PinUnblockTerms, type PurseCounter } from './purse-counter.js';

export async function unblockPin(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const asked = request.command.unblockPin!;
  const card = await usableCard(counter, request);
  const cardId = card.info.cardId;
  const newPin = counter.pinFrom(request, asked.newPinBlock);
  await counter.authenticate(card);
  const before = await card.terminal.readPinStatus();
  const reply = await counter.options.link.inquire(
    request.terminalName,
    {
      pinUnblock: {
        authorizationId: newAuthorisationId(),
        cardId,
        pinResets: before.pinResets,
        name: asked.name,
        birthDate: asked.birthDate,
      },
    },
    { attempts: 2 },
  );
  const terms = reply.pinUnblock as PinUnblockTerms | null;
  if (!reply.ok || !terms) throw Refused.because(reply.code, `head office refused the PIN unblock: ${reply.message}`, cardId);
  await pinCommand(cardId, 'unblock', () =>
    card.terminal.unblockPin({ authorisationId: terms.authorizationId, unblockMac: toHex(terms.mac), newPin }),
  );
  const [entry] = await counter.record(request, cardId, {
    type: 'PinUnblocked',
    data: {
      cardId,
      authorizationId: terms.authorizationId,
      pinResets: before.pinResets + 1,
      storeId: counter.storeId,
      terminalId: request.terminalName,
    },
  });
  const was = before.triesLeft === 0 ? 'was blocked' : `had ${before.triesLeft} tries left`;
  return {
    ok: true,
    code: 'pin_unblocked',
    message: `PIN unblocked (it ${was}): the new PIN holds, with 3 tries`,
    cardId,
    balance: card.balance.balance,
    eventId: entry!.envelope.eventId,
  };
}

export async function changePin(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const asked = request.command.changePin!;
  const card = await usableCard(counter, request);
  const cardId = card.info.cardId;
  const oldPin = counter.pinFrom(request, asked.pinBlock);
  const newPin = counter.pinFrom(request, asked.newPinBlock);
  await counter.authenticate(card);
  try {
    await pinCommand(cardId, 'change', () => card.terminal.changePin(oldPin, newPin));
  } catch (error) {
    const refusal = pinRefusal(error);
    if (!refusal) throw error;
    throw Refused.because(refusal.code, `${refusal.message}; the PIN is unchanged`, cardId);
  }
  const [entry] = await counter.record(request, cardId, {
    type: 'PinChanged',
    data: { cardId, storeId: counter.storeId, terminalId: request.terminalName },
  });
  return {
    ok: true,
    code: 'pin_changed',
    message: 'PIN changed: the new PIN holds from now on',
    cardId,
    balance: card.balance.balance,
    eventId: entry!.envelope.eventId,
  };
}

/**
 * The card command that sets the PIN. A card pulled during it may have taken the new PIN or not
 * (the chip commits before it answers), so the holder is told to try again rather than that
 * nothing happened.
 */
async function pinCommand(cardId: string, operation: 'unblock' | 'change', command: () => Promise<void>): Promise<void> {
  try {
    await command();
  } catch (error) {
    if (!(error instanceof CardRemovedError)) throw error;
    throw Refused.because(
      'card_removed',
      `card removed during the PIN ${operation}: the card may hold the new PIN or the one before; insert it and ${operation} the PIN again`,
      cardId,
    );
  }
}

/** The card in the reader, refused as for a purse operation when it may not be used (blacklisted, expired, terminated...). */
async function usableCard(counter: PurseCounter, request: PosRequest): Promise<InsertedCard> {
  const card = await insertCard(counter, request);
  const refusal = checkCardUsable(card.facts, counter.today());
  if (refusal) throw Refused.because(refusal.code, refusal.message, card.info.cardId);
  return card;
}
