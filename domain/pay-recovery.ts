// Pays whose card answer was lost: the chip may have committed the debit (card pulled after the
// commit, before the response), so the store finds out at the card's next insertion at this store,
// from the chip's usage log. Pure: the store reads edge.db and the chip, then asks here what to do.
//
// Which log records may be this store's: only debits this store sent and did not record. The store
// remembers each pay it sends (counter, amount, its terminal's chip id) before the card sees it, and
// forgets it once recorded. A chip terminal id alone cannot tell stores apart, since it derives from
// the terminal's name and every store names its terminals alike ("pos-1"): a debit another store made
// and recorded would be recorded here a second time. Beyond that, only counters past the last movement
// this store recorded for the card are considered, so a pay recorded after all is never taken again.

import type { PurseOperation } from '../card/index.js';

/** A pay this store sent to a card and has not recorded yet. */
export interface PaySent {
  cardId: string;
  /** The chip's counter after the debit: the counter read at insertion plus one. */
  cardCounter: number;
  amount: number;
  /** The chip terminal id (16 hex digits) the debit was sent with: the id the chip logs and MACs. */
  terminalId: string;
}

/** One record of the chip's usage log, as the terminal reads it. */
export interface ChipLogRecord {
  operation: PurseOperation;
  amount: number;
  counter: number;
  balanceAfter: number;
  terminalId: string;
  mac: string;
}

/** What to do about one pay sent; `S` is the store's own note of it, handed back as it came. */
export type PayRecovery<S extends PaySent = PaySent> =
  | { action: 'record'; sent: S; debit: ChipLogRecord }
  | { action: 'forget'; sent: S; reason: 'recorded' | 'not_on_chip' | 'beyond_log' };

export interface PayRecoveryInput<S extends PaySent = PaySent> {
  /** The pays this store sent to this card and did not record. */
  sent: S[];
  /** The highest card counter among the movements this store recorded for the card (0 if none). */
  lastRecordedCounter: number;
  /** The chip's counter now. */
  chipCounter: number;
  /** The chip's usage log (any order). */
  log: ChipLogRecord[];
  /** The oldest counter the log still holds a record for (1 while the log has never wrapped). */
  logCoversFromCounter: number;
}

/** A refund's credit this store sent to a card and has not recorded yet. */
export interface RefundSent {
  cardId: string;
  /** The chip's counter after the credit: the counter the authorisation is bound to, plus one. */
  cardCounter: number;
  amount: number;
  /** The chip terminal id (16 hex digits) the credit was sent with. */
  terminalId: string;
}

/**
 * A refund whose card answer was lost, at the card's next insertion: record it (the chip logged
 * that credit, of that amount, from that terminal, at the counter the authorisation was bound to),
 * give it back (the chip is still before that counter, or went past it with another record: the
 * credit never happened), or forget it (the log no longer reaches back to it).
 */
export function recoverLostRefund<S extends RefundSent>(
  sent: S,
  chip: Pick<PayRecoveryInput, 'chipCounter' | 'log' | 'logCoversFromCounter'>,
): { action: 'record'; credit: ChipLogRecord } | { action: 'release' | 'beyond_log' } {
  const atCounter = chip.log.find((r) => r.counter === sent.cardCounter);
  if (
    atCounter?.operation === 'credit' &&
    atCounter.amount === sent.amount &&
    atCounter.terminalId.toLowerCase() === sent.terminalId.toLowerCase()
  )
    return { action: 'record', credit: atCounter };
  if (atCounter || sent.cardCounter > chip.chipCounter) return { action: 'release' };
  return sent.cardCounter >= chip.logCoversFromCounter ? { action: 'release' } : { action: 'beyond_log' };
}

/**
 * Per pay sent and not recorded: record it (the chip logged that debit, of that amount, from that
 * terminal), or forget it (recorded after all; the debit never reached the chip; the log no longer
 * reaches back to it, so nothing can be recorded with the chip's MAC).
 */
export function recoverLostPays<S extends PaySent>(input: PayRecoveryInput<S>): PayRecovery<S>[] {
  return input.sent.map((sent): PayRecovery<S> => {
    if (sent.cardCounter <= input.lastRecordedCounter) return { action: 'forget', sent, reason: 'recorded' };
    const debit = input.log.find(
      (r) =>
        r.counter === sent.cardCounter &&
        r.operation === 'debit' &&
        r.amount === sent.amount &&
        r.terminalId.toLowerCase() === sent.terminalId.toLowerCase(),
    );
    if (debit) return { action: 'record', sent, debit };
    if (sent.cardCounter > input.chipCounter || sent.cardCounter >= input.logCoversFromCounter)
      return { action: 'forget', sent, reason: 'not_on_chip' };
    return { action: 'forget', sent, reason: 'beyond_log' };
  });
}
