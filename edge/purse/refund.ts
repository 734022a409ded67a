// Refund at the store where a pay was made (head office's side: host/purse/refund-authorisations.ts):
// PIN verified by the card; head office asked to authorise a credit of the card at the chip's
// counter against the pay; the chip's CREDIT under head office's MAC; PurseRefunded, naming the
// pay, after. Head office authorises every refund: with head office out of reach the card is not
// touched and nothing is refunded.
import { fromHex, newAuthorisationId, toHex } from '../../card/index.js';
import { yen } from '../../domain/index.js';
import type { PosOutcome, PosRequest } from '../pos/index.js';
import { HeadOfficeUnreachableError } from './head-office-link.js';
import { insertCard } from './insertion.js';
import { creditChip, settleOpenLoads, verifyHolderPin } from './load.js';
import { releaseRefund } from './lost-refunds.js';
import { Refused, type LoadTerms, type PurseCounter } from './purse-counter.js';

/** How long a refund waits for the store's log (and so the pay) to reach head office before it asks. */
const REPLICATION_WAIT_MS = 3_000;

export async function refund(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const asked = request.command.refund;
  const payEventId = asked?.payEventId ?? '';
  if (!payEventId) throw Refused.because('bad_request', 'pay_event_id: name the pay to refund (the event id of its PursePaid)');
  // 0: the whole pay, as head office finds it.
  const amount = asked?.amount ? counter.amountOf(asked.amount) : 0;
  if (!counter.options.link.online) throw offline('the store is offline');
  const card = await insertCard(counter, request);
  const cardId = card.info.cardId;
  await counter.refuseUnusable(request, card, 'refund', amount);
  const wrongPin = await verifyHolderPin(counter, card, request, { operation: 'refund', amount, pinBlock: asked?.pinBlock });
  if (wrongPin) return wrongPin;
  const balance = await counter.balanceAfter(card, await settleOpenLoads(counter, card, request, true));
  await untilReplicated(counter);
  let reply;
  try {
    reply = await counter.options.link.inquire(
      request.terminalName,
      {
        refund: {
          refundId: newAuthorisationId(),
          payEventId,
          cardId,
          amount,
          cardCounter: balance.counter,
          cardBalance: balance.balance,
        },
      },
      { attempts: 2 },
    );
  } catch (error) {
    if (error instanceof HeadOfficeUnreachableError) throw offline(error.message, cardId);
    throw error;
  }
  if (!reply.ok || !reply.authorisation) {
    const refusal = { code: reply.code, message: `head office refused the refund: ${reply.message}` };
    return counter.decline(request, cardId, 'refund', amount, refusal, balance.balance);
  }
  const terms = reply.authorisation as LoadTerms;
  if (counter.now().getTime() >= terms.deadlineMs - (counter.options.creditSafetyMs ?? 2_000)) {
    await releaseRefund(counter, request, terms.authorizationId);
    throw Refused.because('authorisation_expired', 'head office answered too late to credit the card; nothing was refunded', cardId);
  }
  const sent = {
    refundId: terms.authorizationId,
    cardId,
    cardCounter: terms.cardCounter + 1,
    amount: terms.amount,
    terminalId: toHex(card.terminal.terminalId),
    payEventId,
    // Should the card's answer be lost, the refund is recorded later under this command and terminal.
    commandId: request.commandId,
    terminalName: request.terminalName,
  };
  counter.refunds.sending(sent);
  const receipt = await creditChip(counter, card, terms, {
    // The card answered with a refusal: nothing was credited, and the pay may be refunded again.
    refused: async () => {
      counter.refunds.forget(sent.refundId);
      await releaseRefund(counter, request, terms.authorizationId);
    },
    removed:
      'card removed during the refund: insert it again here; if the card took the credit, it is recorded then, else the refund is given back',
  });
  const [entry] = await counter.record(request, cardId, {
    type: 'PurseRefunded',
    data: {
      cardId,
      amount: terms.amount,
      newBalance: receipt.newBalance,
      cardCounter: receipt.counter,
      refundId: terms.authorizationId,
      payEventId,
      cardMac: fromHex(receipt.mac),
      storeId: counter.storeId,
      terminalId: request.terminalName,
    },
  });
  counter.pays.recorded(cardId, receipt.counter);
  counter.refunds.forget(sent.refundId);
  return {
    ok: true,
    code: 'refunded',
    message: `refunded ${yen(terms.amount)}; balance ${yen(receipt.newBalance)}`,
    cardId,
    balance: receipt.newBalance,
    eventId: entry!.envelope.eventId,
  };
}

function offline(why: string, cardId?: string): Refused {
  return Refused.because(
    'head_office_unreachable',
    `a refund needs head office's authorisation and head office cannot be reached (${why}): nothing was refunded and the card was not touched`,
    cardId,
  );
}

/** The pay was recorded here a moment ago perhaps: head office decides on it once the store's log reached it. */
async function untilReplicated(counter: PurseCounter): Promise<void> {
  const { replicated, log } = counter.options;
  if (!replicated) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    replicated(log.headSeq),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, REPLICATION_WAIT_MS);
    }),
  ]);
  clearTimeout(timer);
}
