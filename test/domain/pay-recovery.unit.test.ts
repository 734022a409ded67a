import { describe, expect, it } from 'vitest';
import { recoverLostPays, recoverLostRefund, type ChipLogRecord, type PaySent, type PayRecoveryInput } from '../../domain/index.js';

const HERE = '00112233aabbccdd';
const ELSEWHERE = 'ffeeddccbbaa9988';
// Given: the store sent a pay of 1,500 at counter 3 (the chip was at 2) and lost the card's answer.
const sent: PaySent = { cardId: 'card-1', cardCounter: 3, amount: 1_500, terminalId: HERE };
const debit = (counter: number, amount: number, terminalId = HERE): ChipLogRecord => ({
  operation: 'debit',
  amount,
  counter,
  balanceAfter: 10_000 - amount,
  terminalId,
  mac: '0102030405060708',
});
const credit: ChipLogRecord = {
  operation: 'credit',
  amount: 10_000,
  counter: 2,
  balanceAfter: 10_000,
  terminalId: ELSEWHERE,
  mac: '0807060504030201',
};
const given = (change: Partial<PayRecoveryInput>): PayRecoveryInput => ({
  sent: [sent],
  lastRecordedCounter: 2,
  chipCounter: 3,
  log: [debit(3, 1_500), credit],
  logCoversFromCounter: 1,
  ...change,
});

describe('pays whose card answer was lost, at the next insertion', () => {
  it('when the chip logged that debit from this terminal, then it is recorded with the logged record', () => {
    expect(recoverLostPays(given({}))).toEqual([{ action: 'record', sent, debit: debit(3, 1_500) }]);
  });

  it('when the chip is still at the counter read before the pay, then the debit never reached it: forgotten', () => {
    expect(recoverLostPays(given({ chipCounter: 2, log: [credit] }))).toEqual([{ action: 'forget', sent, reason: 'not_on_chip' }]);
  });

  it('when another store moved the card on at that counter, then it is not this pay: nothing recorded', () => {
    expect(recoverLostPays(given({ chipCounter: 4, log: [debit(4, 700, ELSEWHERE), debit(3, 1_500, ELSEWHERE), credit] }))).toEqual([
      { action: 'forget', sent, reason: 'not_on_chip' },
    ]);
    expect(recoverLostPays(given({ log: [debit(3, 900), credit] }))).toEqual([{ action: 'forget', sent, reason: 'not_on_chip' }]);
  });

  it('when this store already recorded a movement at or past that counter, then it is not recorded again', () => {
    expect(recoverLostPays(given({ lastRecordedCounter: 3 }))).toEqual([{ action: 'forget', sent, reason: 'recorded' }]);
  });

  it('when the log no longer reaches back to that counter, then it cannot be recorded with the chip MAC', () => {
    expect(recoverLostPays(given({ chipCounter: 20, log: [debit(20, 1)], logCoversFromCounter: 11 }))).toEqual([
      { action: 'forget', sent, reason: 'beyond_log' },
    ]);
  });

  it('given no pay sent and unrecorded, then the log is not consulted: nothing to do, whatever it shows', () => {
    expect(recoverLostPays(given({ sent: [] }))).toEqual([]);
  });
});

describe('a refund whose card answer was lost, at the next insertion', () => {
  // Given: the store sent a refund credit of 1,500 bound to counter 2 (so landing at 3) and lost the answer.
  const refund = { cardId: 'card-1', cardCounter: 3, amount: 1_500, terminalId: HERE };
  const refunded: ChipLogRecord = { ...debit(3, 1_500), operation: 'credit', balanceAfter: 11_500 };

  it('records the credit the chip logged at that counter, of that amount, from that terminal', () => {
    expect(recoverLostRefund(refund, { chipCounter: 3, log: [refunded, credit], logCoversFromCounter: 1 })).toEqual({
      action: 'record',
      credit: refunded,
    });
  });

  it('gives the refund back when the chip is still before the counter, or logged something else there', () => {
    expect(recoverLostRefund(refund, { chipCounter: 2, log: [credit], logCoversFromCounter: 1 })).toEqual({ action: 'release' });
    expect(recoverLostRefund(refund, { chipCounter: 3, log: [debit(3, 1_500), credit], logCoversFromCounter: 1 })).toEqual({
      action: 'release',
    });
    expect(recoverLostRefund(refund, { chipCounter: 3, log: [{ ...refunded, terminalId: ELSEWHERE }], logCoversFromCounter: 1 })).toEqual({
      action: 'release',
    });
  });

  it('cannot tell once the log no longer reaches the counter', () => {
    expect(recoverLostRefund(refund, { chipCounter: 20, log: [], logCoversFromCounter: 11 })).toEqual({ action: 'beyond_log' });
  });
});
