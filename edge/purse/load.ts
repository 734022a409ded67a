// Load at the store (head office's side: host/purse): PIN verified by the card; authorisation asked
// for at the chip's counter c; PurseCreditStarted recorded before the credit goes to the card;
// PurseLoaded after. Every insertion first settles loads left open at an earlier insertion.
import { bankIdDigits, fromHex, newAuthorisationId, toHex, type PurseReceipt } from '../../card/index.js';
import { decideLoad, yen } from '../../domain/index.js';
import { CardRemovedError, CardStatusError } from '../../reader/index.js';
import type { PosOutcome, PosRequest } from '../pos/index.js';
import type { cardsys, Fields } from '../../contracts/index.js';
import type { LogRecord } from '../../reader/index.js';
import { HeadOfficeUnreachableError } from './head-office-link.js';
import { insertCard } from './insertion.js';
import {
  logCoversFrom,
  pinRefusal,
  Refused,
  type ChipCredit,
  type InsertedCard,
  type LoadTerms,
  type PurseCounter,
} from './purse-counter.js';

export async function load(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const amount = counter.amountOf(request.command.load?.amount);
  const card = await insertCard(counter, request);
  const cardId = card.info.cardId;
  await counter.refuseUnusable(request, card, 'load', amount);
  const wrongPin = await verifyHolderPin(counter, card, request, { operation: 'load', amount, pinBlock: request.command.load?.pinBlock });
  if (wrongPin) return wrongPin;
  const bankId = await bankIdOf(counter, card, request);
  const balance = await counter.balanceAfter(card, await settleOpenLoads(counter, card, request, true));
  const decision = decideLoad({ ...card.facts, balance: balance.balance }, amount, counter.today());
  if (!decision.ok) return counter.decline(request, cardId, 'load', amount, decision, balance.balance);

  const reply = await counter.options.link.inquire(
    request.terminalName,
    {
      authorise: {
        authorizationId: newAuthorisationId(),
        cardId,
        bankId,
        amount,
        cardCounter: balance.counter,
        cardBalance: balance.balance,
      },
    },
    { attempts: 2 },
  );
  if (!reply.ok || !reply.authorisation) {
    return counter.decline(
      request,
      cardId,
      'load',
      amount,
      { code: reply.code, message: `head office refused the load: ${reply.message}` },
      balance.balance,
    );
  }
  const loaded = await credit(counter, card, reply.authorisation as LoadTerms, request);
  return {
    ok: true,
    code: 'loaded',
    message: `loaded ${yen(amount)}; balance ${yen(loaded.newBalance)}`,
    cardId,
    balance: loaded.newBalance,
    eventId: loaded.eventId,
  };
}

/**
 * A replacement card takes the balance head office moved to it from the lost card: at this
 * insertion, with the PIN verified, head office authorises the load from the replacement account
 * and the card is credited, as an open load is completed.
 */
export async function replacementCredit(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const card = await insertCard(counter, request);
  const cardId = card.info.cardId;
  await counter.refuseUnusable(request, card, 'load', 0);
  if (!counter.options.link.online)
    throw Refused.because(
      'head_office_unreachable',
      "a lost card's balance is credited with head office reachable: try again once it is",
      cardId,
    );
  const wrongPin = await verifyHolderPin(counter, card, request, {
    operation: 'load',
    amount: 0,
    pinBlock: request.command.replacementCredit?.pinBlock,
  });
  if (wrongPin) return wrongPin;
  const notes = await settleOpenLoads(counter, card, request, true);
  const { balance } = await counter.balanceAfter(card, notes);
  if (notes.length === 0)
    return {
      ok: false,
      code: 'nothing_due',
      message: `no balance of a lost card waits for this card (head office moves it once every store that saw the lost card has sent its events past the report); balance ${yen(balance)}`,
      cardId,
      balance,
    };
  const credited = balance - card.balance.balance;
  return { ok: true, code: 'credited', message: `${yen(credited)} of the lost card credited; balance ${yen(balance)}`, cardId, balance };
}

/**
 * Presents the holder's PIN for a credit of the card (a load's, a replacement credit's or a
 * refund's) or its return to the card; a wrong or blocked PIN is declined and recorded.
 */
export async function verifyHolderPin(
  counter: PurseCounter,
  card: InsertedCard,
  request: PosRequest,
  credit: { operation: 'load' | 'refund' | 'return'; amount: number; pinBlock: Uint8Array | null | undefined },
): Promise<PosOutcome | undefined> {
  await counter.authenticate(card);
  try {
    await card.terminal.verifyPin(counter.pinFrom(request, credit.pinBlock));
    return undefined;
  } catch (error) {
    const refusal = pinRefusal(error);
    if (!refusal) throw error;
    return counter.decline(request, card.info.cardId, credit.operation, credit.amount, refusal, card.facts.balance);
  }
}

/**
 * The chip's CREDIT under head office's authorisation, for a load or a refund. A refusal by the card
 * (nothing credited) runs `refused` before the error goes on; a removed card is refused with `removed`.
 */
export async function creditChip(
  counter: PurseCounter,
  card: InsertedCard,
  terms: LoadTerms,
  on: { refused: () => Promise<void>; removed: string },
): Promise<PurseReceipt> {
  try {
    return await card.terminal.credit({
      amount: terms.amount,
      authorisationId: terms.authorizationId,
      authorisationMac: toHex(terms.mac),
      at: counter.now(),
    });
  } catch (error) {
    if (error instanceof CardStatusError) await on.refused();
    else if (error instanceof CardRemovedError) throw Refused.because('card_removed', on.removed, card.info.cardId);
    throw error;
  }
}

/** Credits the card with an authorisation, recording the start before and the load after. */
async function credit(
  counter: PurseCounter,
  card: InsertedCard,
  terms: LoadTerms,
  request: PosRequest,
): Promise<{ newBalance: number; eventId: string }> {
  const cardId = card.info.cardId;
  if (counter.now().getTime() >= terms.deadlineMs - (counter.options.creditSafetyMs ?? 2_000)) {
    await release(counter, request, terms.authorizationId);
    throw Refused.because('authorisation_expired', 'head office answered too late to credit the card; the account is credited back');
  }
  await counter.record(request, cardId, {
    type: 'PurseCreditStarted',
    data: {
      cardId,
      authorizationId: terms.authorizationId,
      amount: terms.amount,
      cardCounter: terms.cardCounter,
      storeId: counter.storeId,
      terminalId: request.terminalName,
    },
  });
  const receipt = await creditChip(counter, card, terms, {
    // The card refused: nothing was credited. Head office gives the money back once the chip's own
    // log shows it (the store's word is not enough after PurseCreditStarted): the log goes along.
    refused: async () => {
      const chip = await chipLogOf(counter, card).catch(() => undefined);
      await release(counter, request, terms.authorizationId, chip);
    },
    removed: "card removed during the load: it completes at the card's next insertion at any store, or the money returns to the account",
  });
  const [entry] = await counter.record(request, cardId, {
    type: 'PurseLoaded',
    data: {
      cardId,
      amount: terms.amount,
      newBalance: receipt.newBalance,
      cardCounter: receipt.counter,
      authorizationId: terms.authorizationId,
      cardMac: fromHex(receipt.mac),
      storeId: counter.storeId,
      terminalId: request.terminalName,
    },
  });
  counter.loads.remember(terms.authorizationId);
  counter.pays.recorded(cardId, receipt.counter);
  return { newBalance: receipt.newBalance, eventId: entry!.envelope.eventId };
}

/**
 * At every insertion with head office reachable: are loads of this card still open? Usually one
 * round trip says no. Otherwise the chip's log goes to head office, which says per authorisation
 * whether the credit is on the chip (record it), may be made now (credit it), or went back.
 */
export async function settleOpenLoads(
  counter: PurseCounter,
  card: InsertedCard,
  request: PosRequest,
  canCredit: boolean,
): Promise<string[]> {
  const { link } = counter.options;
  if (!link.online) return [];
  const cardId = card.info.cardId;
  try {
    // Asked at every insertion, a pay's too: a store whose WAN link is down must not wait for it.
    const probe = await link.inquire(
      request.terminalName,
      { pending: { cardId, cardCounter: card.balance.counter } },
      { waitForResponders: false },
    );
    if (probe.code !== 'log_needed') return [];
    const reply = await link.inquire(request.terminalName, {
      pending: { cardId, logRead: true, canCredit, ...(await chipLogOf(counter, card)) },
    });
    const notes: string[] = [];
    for (const pending of reply.pending) {
      const terms = pending.authorisation as LoadTerms;
      if (pending.action === 'record' && pending.found && !counter.loads.recorded(terms.authorizationId)) {
        const found = pending.found as ChipCredit;
        await counter.record(request, cardId, {
          type: 'PurseLoaded',
          data: {
            cardId,
            amount: found.amount,
            newBalance: found.newBalance,
            cardCounter: found.cardCounter,
            authorizationId: terms.authorizationId,
            cardMac: found.cardMac,
            storeId: counter.storeId,
            // The terminal that made the credit, as the chip logged it (its MAC covers this id).
            terminalId: toHex(found.terminalId),
            recovered: true,
          },
        });
        counter.loads.remember(terms.authorizationId);
        counter.pays.recorded(cardId, found.cardCounter);
        notes.push(`earlier load of ${yen(found.amount)} found on the card and recorded`);
      } else if (pending.action === 'credit') {
        await credit(counter, card, terms, request);
        notes.push(`earlier load of ${yen(terms.amount)} completed`);
      } else if (pending.action === 'reversed') {
        notes.push(`earlier load of ${yen(terms.amount)} returned to the bank account`);
      }
    }
    return notes;
  } catch (error) {
    if (error instanceof HeadOfficeUnreachableError) return [];
    throw error;
  }
}

/** The chip's counter and usage log, every record with its card MAC, as head office takes them. */
export async function chipLogOf(counter: PurseCounter, card: InsertedCard): Promise<Fields<cardsys.v1.ChipLog>> {
  await counter.authenticate(card);
  const log = await card.terminal.readLog();
  return chipLogMessage((await card.terminal.readBalance()).counter, log);
}

/** A chip's counter and usage log (newest first, as the chip reads it out) as the ChipLog message. */
export function chipLogMessage(cardCounter: number, log: LogRecord[]): Fields<cardsys.v1.ChipLog> {
  const record = (r: LogRecord) => ({
    amount: r.amount,
    cardCounter: r.counter,
    newBalance: r.balanceAfter,
    cardMac: fromHex(r.mac),
    atMs: r.time.getTime(),
    terminalId: fromHex(r.terminalId),
  });
  return {
    cardCounter,
    logCoversFromCounter: logCoversFrom(log),
    credits: log.filter((r) => r.operation === 'credit').map((r) => ({ ...record(r), authorizationId: '' })),
    debits: log.filter((r) => r.operation === 'debit').map(record),
  };
}

async function release(
  counter: PurseCounter,
  request: PosRequest,
  authorizationId: string,
  chip?: Fields<cardsys.v1.ChipLog>,
): Promise<void> {
  try {
    const reply = await counter.options.link.inquire(request.terminalName, {
      release: { authorizationId, reason: 'credit not made', ...(chip ? { chip } : {}) },
    });
    if (!reply.ok) counter.logger.warn(`purse: head office keeps authorisation ${authorizationId} open: ${reply.message}`);
  } catch (error) {
    counter.logger.warn(
      `purse: could not release authorisation ${authorizationId} (head office reverses it after its deadline): ${(error as Error).message}`,
    );
  }
}

/** The card holder's bank account (debited for a load, credited on return): the chip's, checked against the magnetic stripe where there is a stripe reader. */
export async function bankIdOf(counter: PurseCounter, card: InsertedCard, request: PosRequest): Promise<string> {
  const onChip = bankIdDigits(await card.terminal.readBankId());
  if (!counter.options.stripeReader) return onChip;
  const onStripe = bankIdDigits(await counter.options.stripeReader(request.terminalId));
  if (onStripe !== onChip) {
    throw Refused.because('card_unusable', 'the magnetic stripe and the chip name different bank accounts', card.info.cardId);
  }
  return onStripe;
}
