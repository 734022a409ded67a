// Refunds whose card answer was lost (the card pulled after the chip committed the credit, or the
// edge stopped): at the card's next insertion at this store, the chip's usage log says whether the
// credit was made. If so, PurseRefunded is recorded once, with the chip's MAC, under the command
// that sent it; if not, the refund is given back to head office and the pay may be refunded again.
import { fromHex } from '../../card/index.js';
import { recoverLostRefund, yen } from '../../domain/index.js';
import type { PosRequest } from '../pos/index.js';
import { logCoversFrom, type InsertedCard, type PurseCounter } from './purse-counter.js';

export async function recordLostRefunds(counter: PurseCounter, card: InsertedCard, request: PosRequest): Promise<string[]> {
  const cardId = card.info.cardId;
  const sent = counter.refunds.unrecorded(cardId);
  if (sent.length === 0) return [];
  await counter.authenticate(card);
  const log = await card.terminal.readLog();
  const chip = { chipCounter: card.balance.counter, log, logCoversFromCounter: logCoversFrom(log) };
  const notes: string[] = [];
  for (const noted of sent) {
    const found = recoverLostRefund(noted, chip);
    if (found.action === 'record') {
      const { credit } = found;
      await counter.record({ ...request, commandId: noted.commandId }, cardId, {
        type: 'PurseRefunded',
        data: {
          cardId,
          amount: credit.amount,
          newBalance: credit.balanceAfter,
          cardCounter: credit.counter,
          refundId: noted.refundId,
          payEventId: noted.payEventId,
          cardMac: fromHex(credit.mac),
          storeId: counter.storeId,
          terminalId: noted.terminalName,
          recovered: true,
        },
      });
      counter.pays.recorded(cardId, credit.counter);
      counter.refunds.forget(noted.refundId);
      notes.push(`earlier refund of ${yen(credit.amount)} found on the card and recorded`);
    } else if (found.action === 'release') {
      if (await releaseRefund(counter, request, noted.refundId)) counter.refunds.forget(noted.refundId);
    } else {
      counter.logger.warn(`purse: refund ${noted.refundId} sent to card ${cardId} is past the card's usage log: it cannot be recorded`);
      counter.refunds.forget(noted.refundId);
    }
  }
  return notes;
}

/** Gives a refund whose credit the card did not take back to head office; true once head office holds it open no more. */
export async function releaseRefund(counter: PurseCounter, request: PosRequest, refundId: string): Promise<boolean> {
  try {
    const reply = await counter.options.link.inquire(request.terminalName, { refundRelease: { refundId, reason: 'credit not made' } });
    if (reply.code === 'already_released') counter.logger.info(`purse: ${reply.message}`);
    // Head office recorded the credit on the card, against what this store read of it: asking again changes nothing.
    else if (reply.code === 'already_completed')
      counter.logger.warn(`purse: head office does not give refund ${refundId} back: ${reply.message}`);
    else if (!reply.ok) counter.logger.warn(`purse: head office keeps refund ${refundId} open: ${reply.message}`);
    return reply.ok || reply.code === 'already_completed';
  } catch (error) {
    counter.logger.warn(`purse: could not give refund ${refundId} back to head office: ${(error as Error).message}`);
    return false;
  }
}
