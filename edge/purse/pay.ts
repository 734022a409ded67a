// Pay at the store, which needs no head office: the card checks, a debit within the chip balance,
// PursePaid with the card's MAC. The store notes the pay before the debit goes to the card, so a
// lost card answer is found at the card's next insertion (insertion.ts).
import { fromHex, toHex } from '../../card/index.js';
import { decidePay, yen } from '../../domain/index.js';
import { CardRemovedError, CardStatusError } from '../../reader/index.js';
import type { PosOutcome, PosRequest } from '../pos/index.js';
import { insertCard } from './insertion.js';
import { settleOpenLoads } from './load.js';
import { Refused, type PurseCounter } from './purse-counter.js';

export async function pay(counter: PurseCounter, request: PosRequest): Promise<PosOutcome> {
  const amount = counter.amountOf(request.command.pay?.amount);
  const card = await insertCard(counter, request);
  await counter.refuseUnusable(request, card, 'pay', amount);
  const balance = await counter.balanceAfter(card, await settleOpenLoads(counter, card, request, false));
  const decision = decidePay({ ...card.facts, balance: balance.balance }, amount, counter.today());
  if (!decision.ok) return counter.decline(request, card.info.cardId, 'pay', amount, decision, balance.balance);
  await counter.authenticate(card);
  const sent = {
    cardId: card.info.cardId,
    cardCounter: balance.counter + 1,
    amount,
    terminalId: toHex(card.terminal.terminalId),
    // Should the card's answer be lost, the pay is recorded later under this command and terminal.
    commandId: request.commandId,
    terminalName: request.terminalName,
  };
  counter.pays.sending(sent);
  let receipt;
  try {
    receipt = await card.terminal.debit({ amount, at: counter.now() });
  } catch (error) {
    // The card refused: nothing was debited.
    if (error instanceof CardStatusError) counter.pays.forget(sent);
    else if (error instanceof CardRemovedError) {
      throw Refused.because(
        'card_removed',
        'card removed during the pay: insert it again; if the card took the pay, it is recorded then',
        card.info.cardId,
      );
    }
    throw error;
  }
  const [entry] = await counter.record(request, card.info.cardId, {
    type: 'PursePaid',
    data: {
      cardId: receipt.cardId,
      amount,
      newBalance: receipt.newBalance,
      cardCounter: receipt.counter,
      cardMac: fromHex(receipt.mac),
      storeId: counter.storeId,
      terminalId: request.terminalName,
    },
  });
  counter.pays.recorded(receipt.cardId, receipt.counter);
  return {
    ok: true,
    code: 'paid',
    message: `paid ${yen(amount)}; balance ${yen(receipt.newBalance)}`,
    cardId: receipt.cardId,
    balance: receipt.newBalance,
    eventId: entry!.envelope.eventId,
  };
}
