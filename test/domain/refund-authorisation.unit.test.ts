import { describe, expect, it } from 'vitest';
import type { DomainEvent, NewDomainEvent } from '../../contracts/index.js';
import {
  DEFAULT_LOAD_LIMITS,
  DEFAULT_REFUND_RULES,
  type DomainRefusal,
  inquiryDecider,
  refundDecider,
  type RefundFact,
} from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

// 2025-03-30 10:00 JST; the business day (JST date, cut off at midnight) ends 14 hours later.
const PAID_AT = Date.parse('2025-03-30T10:00:00+09:00');
const HOUR = 60 * 60 * 1000;
let seq = 0;
/** A fact as head office folds it: the event, its id, the origin whose log holds it, when it happened. */
const at = (event: NewDomainEvent, origin = 'hq', eventId = `ev-${++seq}`, occurredAtMs = PAID_AT): RefundFact => ({
  event: event as DomainEvent,
  eventId,
  origin,
  occurredAtMs,
});
const spec = DeciderSpecification.forFacts(refundDecider, (event) => at(event));

const paid = at(
  {
    type: 'PursePaid',
    data: {
      cardId: 'card-1',
      amount: 3_000,
      newBalance: 7_000,
      cardCounter: 4,
      cardMac: new Uint8Array(8),
      storeId: 's1',
      terminalId: 's1/pos-1',
    },
  },
  's1',
  'pay-1',
);
const refund = {
  kind: 'authorise_refund',
  refundId: 'refund-1',
  payEventId: 'pay-1',
  cardId: 'card-1',
  amount: 0,
  cardCounter: 4,
  storeId: 's1',
  terminalId: 's1/pos-1',
  nowMs: PAID_AT + HOUR,
  validForMs: 30_000,
  rules: DEFAULT_REFUND_RULES,
  openLoads: [],
} as const;
const authorised = (amount: number, refundId = 'refund-1'): NewDomainEvent => ({
  type: 'RefundAuthorised',
  data: {
    refundId,
    payEventId: 'pay-1',
    cardId: 'card-1',
    amount,
    cardCounter: 4,
    deadlineMs: PAID_AT + HOUR + 30_000,
    storeId: 's1',
    terminalId: 's1/pos-1',
    authorisedAtMs: PAID_AT + HOUR,
  },
});
const completed: NewDomainEvent = {
  type: 'RefundCompleted',
  data: { refundId: 'refund-1', cardId: 'card-1', storeId: 's1', cardCounter: 5, refundedEventId: 'refunded-1' },
};
const released: NewDomainEvent = {
  type: 'RefundReversed',
  data: { refundId: 'refund-1', payEventId: 'pay-1', cardId: 'card-1', amount: 3_000, reason: 'released' },
};
const release = { kind: 'release_refund', refundId: 'refund-1', storeId: 's1' } as const;

describe('refund authorisation at head office', () => {
  it('authorises the whole pay when no amount is given, bound to the chip counter, with a deadline', () => {
    const state = spec
      .given([paid])
      .when(refund)
      .then([authorised(3_000)]);
    expect(state.refundOfPay.get('pay-1')).toBe('refund-1');
    expect(state.openByCard.get('card-1')).toEqual(new Set(['refund-1']));
  });

  it('authorises part of the pay', () => {
    spec
      .given([paid])
      .when({ ...refund, amount: 1_200 })
      .then([authorised(1_200)]);
  });

  it('is idempotent by refund id: asking again authorises nothing more', () => {
    spec
      .given([paid, at(authorised(3_000))])
      .when(refund)
      .then([]);
  });

  it('refuses a pay head office does not hold: unknown_pay', () => {
    spec
      .given([paid])
      .when({ ...refund, payEventId: 'pay-2' })
      .thenThrows({ code: 'unknown_pay' });
  });

  it('refuses a pay made with another card: pay_card_mismatch', () => {
    spec
      .given([paid])
      .when({ ...refund, cardId: 'card-2' })
      .thenThrows({ code: 'pay_card_mismatch' });
  });

  it('refunds only at the store where the pay was made: pay_other_store', () => {
    spec
      .given([paid])
      .when({ ...refund, storeId: 's2', terminalId: 's2/pos-1' })
      .thenThrows({ code: 'pay_other_store' });
  });

  it('refuses a second refund of a pay, open or completed: already_refunded', () => {
    spec
      .given([paid, at(authorised(1_000))])
      .when({ ...refund, refundId: 'refund-2', amount: 1_000 })
      .thenThrows({ code: 'already_refunded' });
    spec
      .given([paid, at(authorised(1_000)), at(completed)])
      .when({ ...refund, refundId: 'refund-2', amount: 1_000 })
      .thenThrows({ code: 'already_refunded' });
  });

  it('never refunds more than was paid: refund_over_paid', () => {
    spec
      .given([paid])
      .when({ ...refund, amount: 3_001 })
      .thenThrows({ code: 'refund_over_paid' });
  });

  it('refunds on the business day of the pay by default, and within the configured window', () => {
    // 00:30 JST the next day: a new business day.
    const nextDay = PAID_AT + 14.5 * HOUR;
    spec
      .given([paid])
      .when({ ...refund, nowMs: nextDay })
      .thenThrows({ code: 'refund_window_passed' });
    const week = { ...DEFAULT_REFUND_RULES, windowDays: 7 };
    spec
      .given([paid])
      .when({ ...refund, nowMs: nextDay, rules: week })
      .then([
        { ...authorised(3_000), data: { ...authorised(3_000).data, deadlineMs: nextDay + 30_000, authorisedAtMs: nextDay } },
      ] as NewDomainEvent[]);
    spec
      .given([paid])
      .when({ ...refund, nowMs: PAID_AT + 8 * 24 * HOUR, rules: week })
      .thenThrows({ code: 'refund_window_passed' });
  });

  it('shares the counter with loads: no refund at a counter an open load holds, and no load at one a refund holds', () => {
    spec
      .given([paid])
      .when({ ...refund, openLoads: [{ id: 'auth-1', cardCounter: 4 }] })
      .thenThrows({ code: 'card_busy' });
    const BANK = '00012345678901';
    DeciderSpecification.for(inquiryDecider)
      .given([
        { type: 'BankAccountOpened', data: { bankId: BANK, balance: 50_000 } },
        { type: 'CardPrimaryIssued', data: { cardId: 'card-1', userId: 'u', bankId: BANK, expiry: '2030-12-31', keyVersion: 1 } },
      ])
      .when({
        kind: 'authorise',
        authorizationId: 'auth-1',
        cardId: 'card-1',
        bankId: BANK,
        amount: 1_000,
        cardCounter: 4,
        storeId: 's1',
        terminalId: 't1',
        nowMs: PAID_AT,
        validForMs: 30_000,
        cardBalance: 0,
        limits: DEFAULT_LOAD_LIMITS,
        openRefunds: [{ id: 'refund-1', cardCounter: 4 }],
      })
      .thenThrows({ code: 'card_busy' });
  });

  it('completes once; a refund the card refused is given back and the pay may be refunded again', () => {
    spec
      .given([paid, at(authorised(3_000))])
      .when({ kind: 'complete_refund', refundId: 'refund-1', storeId: 's1', cardCounter: 5, refundedEventId: 'refunded-1' })
      .then([completed]);
    spec
      .given([paid, at(authorised(3_000)), at(completed)])
      .when({ kind: 'complete_refund', refundId: 'refund-1', storeId: 's1', cardCounter: 5, refundedEventId: 'refunded-1' })
      .then([]);
    const givenBack = spec
      .given([paid, at(authorised(3_000))])
      .when(release)
      .then([released]);
    expect(givenBack.refundOfPay.has('pay-1')).toBe(false);
    spec
      .given([paid, at(authorised(3_000)), at(released)])
      .when({ ...refund, refundId: 'refund-2' })
      .then([authorised(3_000, 'refund-2')]);
  });

  it('gives a refund back only to the store holding it, whatever its status: not_holder', () => {
    for (const past of [[], [at(completed)], [at(released)]])
      spec
        .given([paid, at(authorised(3_000)), ...past])
        .when({ ...release, storeId: 's2' })
        .thenThrows({ code: 'not_holder' });
  });

  it('refuses to give back a refund that reached the card: already_completed', () => {
    spec
      .given([paid, at(authorised(3_000)), at(completed)])
      .when(release)
      .thenThrows((error) => (error as DomainRefusal).code === 'already_completed' && error.message.includes('refund-1'));
  });

  it('gives a refund back once: releasing it again records nothing more', () => {
    const state = spec
      .given([paid, at(authorised(3_000)), at(released)])
      .when(release)
      .then([]);
    expect(state.refunds.get('refund-1')?.status).toBe('reversed');
  });

  it('refuses a refund to a closed card, returned or captured as lost: card_closed', () => {
    const closed = (reason: string, cardId = 'card-1'): RefundFact =>
      at({
        type: 'CardClosed',
        data: { cardId, userId: 'user-1', reason, storeId: 's1', authorizationId: 'ret-1', unloadedAmount: 7_000 },
      });
    for (const reason of ['returned', 'lost'])
      spec
        .given([paid, closed(reason)])
        .when(refund)
        .thenThrows({ code: 'card_closed' });
    // Another card's closure does not stop this one's refunds.
    spec
      .given([paid, closed('returned', 'card-2')])
      .when(refund)
      .then([authorised(3_000)]);
  });
});
