// Card return at the store (head office's side: host/purse/card-returns.ts): the card holder's PIN
// verified, head office's consent asked for at the chip's counter with the chip's balance and log,
// TERMINATE CARD USAGE with its termination MAC (the chip unloads its whole balance and takes no
// command again), PurseUnloaded recorded; head office then credits the bank account. Never offline:
// only head office can consent, and the money goes back through its books. A card reported lost that
// is presented at the counter is captured the same way (captureLostCard): no PIN, nothing credited.
import { fromHex, newAuthorisationId, toHex } from '../../card/index.js';
import { checkCardUsable, yen } from '../../domain/index.js';
import { CardRemovedError } from '../../reader/index.js';
import type { cardsys, Fields } from '../../contracts/index.js';
import type { PosOutcome, PosRequest } from '../pos/index.js';
import { HeadOfficeUnreachableError } from './head-office-link.js';
import { insertCard } from './insertion.js';
import { bankIdOf, chipLogOf, settleOpenLoads, verifyHolderPin } from './load.js';
import { Refused, type InsertedCard, type PurseCounter } from './purse-counter.js';

type UnloadTerms = Fields<cardsys.v1.UnloadAuthorisation>;

const OFFLINE = 'a card is returned only with head office: the store cannot reach it now; nothing was changed on the card';

export async function returnCard(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const { link } = counter.options;
  if (!link.online) throw Refused.because('head_office_unreachable', OFFLINE);
  const card = await insertCard(counter, request);
  const cardId = card.info.cardId;
  if (card.facts.terminated) {
    const found = await recordLostUnload(counter, card, request);
    if (found) return found;
  }
  await counter.refuseUnusable(request, card, 'return', card.facts.balance);
  const wrongPin = await verifyHolderPin(counter, card, request, {
    operation: 'return',
    amount: card.facts.balance,
    pinBlock: request.command.cardReturn?.pinBlock,
  });
  if (wrongPin) return wrongPin;
  const bankId = await bankIdOf(counter, card, request);
  let reply;
  try {
    // An open load goes onto the card first (the PIN is verified), and so back to the account with the rest.
    await settleOpenLoads(counter, card, request, true);
    const chip = await chipLogOf(counter, card);
    reply = await link.inquire(
      request.terminalName,
      {
        unload: {
          authorizationId: newAuthorisationId(),
          cardId,
          bankId,
          cardCounter: chip.cardCounter,
          cardBalance: (await card.terminal.readBalance()).balance,
          chip,
        },
      },
      { attempts: 2 },
    );
  } catch (error) {
    if (error instanceof HeadOfficeUnreachableError) throw Refused.because('head_office_unreachable', OFFLINE, cardId);
    throw error;
  }
  if (!reply.ok || !reply.unload) {
    const balance = (await card.terminal.readBalance()).balance;
    return counter.decline(
      request,
      cardId,
      'return',
      balance,
      { code: reply.code, message: `head office refused the return: ${reply.message}` },
      balance,
    );
  }
  const terms = reply.unload as UnloadTerms;
  let receipt;
  try {
    receipt = await card.terminal.terminate({ terminationMac: toHex(terms.terminationMac), at: counter.now() });
  } catch (error) {
    if (error instanceof CardRemovedError) {
      throw Refused.because(
        'card_removed',
        'card removed during the return: insert it and return it again; if the card was terminated, its unload is recorded then',
        cardId,
      );
    }
    throw error;
  }
  const eventId = await recordUnload(counter, request, card, { ...receipt, authorizationId: terms.authorizationId }, false);
  return {
    ok: true,
    code: 'returned',
    message: `card returned: ${yen(receipt.amount)} goes back to the bank account; the card is terminated`,
    cardId,
    balance: 0,
    eventId,
  };
}

/**
 * A blacklisted card presented at the counter: if head office took it as reported lost, the chip is
 * terminated under its consent (its balance went to the replacement card, so none is paid out) and
 * the unload recorded. A note for the refusal's answer when it was; undefined when head office
 * refuses (only blacklisted) or cannot be asked: the card is refused as blacklisted either way.
 */
export async function captureLostCard(counter: PurseCounter, request: PosRequest, card: InsertedCard): Promise<string | undefined> {
  const { link } = counter.options;
  if (!link.online || card.facts.terminated) return undefined;
  const cardId = card.info.cardId;
  try {
    const bankId = await bankIdOf(counter, card, request);
    const chip = await chipLogOf(counter, card);
    const cardBalance = (await card.terminal.readBalance()).balance;
    const reply = await link.inquire(
      request.terminalName,
      {
        unload: { authorizationId: newAuthorisationId(), cardId, bankId, cardCounter: chip.cardCounter, cardBalance, chip, lostCard: true },
      },
      { attempts: 2 },
    );
    if (!reply.ok || !reply.unload) {
      if (reply.code !== 'not_reported_lost') counter.logger.warn(`purse: lost card ${cardId} not captured: ${reply.message}`);
      return undefined;
    }
    const terms = reply.unload as UnloadTerms;
    const receipt = await card.terminal.terminate({ terminationMac: toHex(terms.terminationMac), at: counter.now() });
    await recordUnload(counter, request, card, { ...receipt, authorizationId: terms.authorizationId }, false);
    return `it was reported lost and is now terminated, its purse of ${yen(receipt.amount)} emptied (the balance goes to its replacement card): keep the card`;
  } catch (error) {
    if (error instanceof HeadOfficeUnreachableError || error instanceof CardRemovedError || error instanceof Refused) {
      counter.logger.warn(`purse: lost card ${cardId} not captured: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

/**
 * A terminated card whose unload this terminal made and this store never recorded (the card's
 * answer was lost): the chip keeps the unload for GET DATA, and it is recorded now, once.
 */
async function recordLostUnload(counter: PurseCounter, card: InsertedCard, request: PosRequest): Promise<PosOutcome | undefined> {
  const cardId = card.info.cardId;
  const unload = await card.terminal.readTerminationRecord();
  const ours = unload.terminalId === toHex(card.terminal.terminalId);
  if (!ours || counter.pays.lastRecordedCounter(cardId) >= unload.counter) return undefined;
  const eventId = await recordUnload(
    counter,
    request,
    card,
    { amount: unload.amount, counter: unload.counter, mac: unload.mac, authorizationId: '' },
    true,
  );
  const refusal = checkCardUsable(card.facts, counter.today());
  return {
    ok: true,
    code: 'returned',
    message: `the card's return was found on the card and recorded: ${yen(unload.amount)} goes back to the bank account; ${refusal?.message ?? 'the card is terminated'}`,
    cardId,
    balance: 0,
    eventId,
  };
}

async function recordUnload(
  counter: PurseCounter,
  request: PosRequest,
  card: InsertedCard,
  unload: { amount: number; counter: number; mac: string; authorizationId: string },
  recovered: boolean,
): Promise<string> {
  const cardId = card.info.cardId;
  const [entry] = await counter.record(request, cardId, {
    type: 'PurseUnloaded',
    data: {
      cardId,
      authorizationId: unload.authorizationId,
      amount: unload.amount,
      cardCounter: unload.counter,
      cardMac: fromHex(unload.mac),
      storeId: counter.storeId,
      terminalId: request.terminalName,
      recovered,
    },
  });
  counter.pays.recorded(cardId, unload.counter);
  return entry!.envelope.eventId;
}
