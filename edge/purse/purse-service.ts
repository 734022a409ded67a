// Load, pay, refund, read and card return at the store, and the holder's PIN, as POS command
// handlers. The chip is the purse; the store checks the card, asks head office's inquiry centre for
// loads (load.ts), refunds (refund.ts), PIN unblocks (pin.ts) and returns (card-return.ts), pays
// within the chip balance (pay.ts), and records what happened in its own log. Each operation is its own module; this one
// registers them and turns refusals and card or network trouble into replies.
import { checkCardUsable, yen } from '../../domain/index.js';
import { CardReaderError, CardRemovedError, CardStatusError, NoCardError, UnknownCardError } from '../../reader/index.js';
import type { PosOutcome, PosRequest, PosServer } from '../pos/index.js';
import { HeadOfficeUnreachableError } from './head-office-link.js';
import { captureLostCard, returnCard } from './card-return.js';
import { insertCard } from './insertion.js';
import { load, replacementCredit, settleOpenLoads } from './load.js';
import { pay } from './pay.js';
import { refund } from './refund.js';
import { changePin, unblockPin } from './pin.js';
import { PurseCounter, Refused, type PurseServiceOptions } from './purse-counter.js';

export class PurseService {
  private readonly counter: PurseCounter;

  constructor(options: PurseServiceOptions) {
    this.counter = new PurseCounter(options, (request, card) => captureLostCard(this.counter, request, card));
  }

  register(pos: PosServer): void {
    pos.register('pay', (request) => this.guard(request, () => pay(this.counter, request)));
    pos.register('load', (request) => this.guard(request, () => load(this.counter, request)));
    pos.register('refund', (request) => this.guard(request, () => refund(this.counter, request)));
    pos.register('read', (request) => this.guard(request, () => this.read(request)));
    pos.register('replacementCredit', (request) => this.guard(request, () => replacementCredit(this.counter, request)));
    pos.register('unblockPin', (request) => this.guard(request, () => unblockPin(this.counter, request)));
    pos.register('changePin', (request) => this.guard(request, () => changePin(this.counter, request)));
    pos.register('cardReturn', (request) => this.guard(request, () => returnCard(this.counter, request)));
    // A pay cut short (the edge stopped after the debit went to the card) is recorded when the card
    // comes back: `pos status` then says so, under the pay's own command id.
    pos.explainInterrupted((commandId) => {
      const found = this.counter.pays.recoveredBy(commandId);
      return (
        found && {
          recoveredEventId: found.eventId,
          cardId: found.cardId,
          cardCounter: found.cardCounter,
          amount: found.amount,
          recoveredAt: found.recoveredAt,
        }
      );
    });
  }

  private async read(request: PosRequest): Promise<PosOutcome> {
    const card = await insertCard(this.counter, request);
    const notes = await settleOpenLoads(this.counter, card, request, false);
    const { balance } = await this.counter.balanceAfter(card, notes);
    const refusal = checkCardUsable(card.facts, this.counter.today());
    const captured = refusal?.code === 'blacklisted' ? await captureLostCard(this.counter, request, card) : undefined;
    const status = refusal
      ? `not usable: ${[refusal.message, captured].filter(Boolean).join('; ')}`
      : `card valid until ${card.info.expiry}`;
    return {
      ok: true,
      code: 'read',
      message: [`balance ${yen(captured ? 0 : balance)}, ${status}`, ...card.notes, ...notes].join('; '),
      cardId: card.info.cardId,
      balance: captured ? 0 : balance,
    };
  }

  /** Turns refusals and card or network trouble into replies a person at the counter understands. */
  private async guard(request: PosRequest, flow: () => Promise<PosOutcome>): Promise<PosOutcome> {
    try {
      return await flow();
    } catch (error) {
      if (error instanceof Refused) return error.outcome;
      if (error instanceof HeadOfficeUnreachableError)
        return {
          ok: false,
          code: 'head_office_unreachable',
          message: `${error.message}; loads and PIN unblocks need head office, pays do not`,
        };
      if (error instanceof CardRemovedError)
        return { ok: false, code: 'card_removed', message: 'card removed during the operation: nothing was recorded; insert it again' };
      if (error instanceof NoCardError)
        return { ok: false, code: 'no_card', message: `no card in the reader of terminal ${request.terminalId}` };
      if (error instanceof UnknownCardError)
        return { ok: false, code: 'card_unusable', message: `this card cannot be used: ${error.message}` };
      if (error instanceof CardStatusError) return { ok: false, code: 'card_refused', message: error.message };
      if (error instanceof CardReaderError) return { ok: false, code: 'card_error', message: error.message };
      throw error;
    }
  }
}
