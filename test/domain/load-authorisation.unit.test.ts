import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../contracts/index.js';
import { DEFAULT_LOAD_LIMITS, inquiryDecider, settleAtInsertion, timeoutReversible, type Authorisation } from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.for(inquiryDecider);
const BANK = '00012345678901';
const NOW = 1_700_000_000_000;
const opened: NewDomainEvent = { type: 'BankAccountOpened', data: { bankId: BANK, balance: 50_000 } };
const authorise = {
  kind: 'authorise',
  authorizationId: 'auth-1',
  cardId: 'card-1',
  bankId: BANK,
  amount: 10_000,
  cardCounter: 4,
  storeId: 's1',
  terminalId: 't1',
  nowMs: NOW,
  validForMs: 30_000,
  cardBalance: 0,
  limits: DEFAULT_LOAD_LIMITS,
} as const;
const debited: NewDomainEvent = {
  type: 'BankAccountDebited',
  data: { bankId: BANK, authorizationId: 'auth-1', amount: 10_000, newBalance: 40_000, cardId: 'card-1' },
};
const authorised: NewDomainEvent = {
  type: 'LoadAuthorised',
  data: {
    authorizationId: 'auth-1',
    cardId: 'card-1',
    bankId: BANK,
    amount: 10_000,
    cardCounter: 4,
    deadlineMs: NOW + 30_000,
    storeId: 's1',
    terminalId: 't1',
    authorisedAtMs: NOW,
  },
};

describe('load authorisation at head office', () => {
  it('debits the account and authorises the credit at the chip counter, with a deadline', () => {
    const state = spec.given([opened]).when(authorise).then([debited, authorised]);
    expect(state.accounts.get(BANK)?.balance).toBe(40_000);
  });

  it('is idempotent by authorisation id: asking again debits nothing more', () => {
    spec.given([opened, debited, authorised]).when(authorise).then([]);
  });

  it('refuses the same authorisation id with other terms', () => {
    spec
      .given([opened, debited, authorised])
      .when({ ...authorise, amount: 9_000 })
      .thenThrows({ code: 'authorisation_conflict' });
  });

  it('refuses when the account holds less than the amount, and for an unknown account', () => {
    spec
      .given([opened])
      .when({ ...authorise, amount: 50_001 })
      .thenThrows({ code: 'insufficient_funds' });
    spec.given([]).when(authorise).thenThrows({ code: 'unknown_account' });
  });

  it('refuses a card issued for another account', () => {
    const issued: NewDomainEvent = {
      type: 'CardPrimaryIssued',
      data: { cardId: 'card-1', userId: 'u', bankId: '99990000000000', expiry: '2030-12' },
    };
    spec.given([opened, issued]).when(authorise).thenThrows({ code: 'card_mismatch' });
  });

  it('refuses a second open authorisation for the same card at the same counter', () => {
    spec
      .given([opened, debited, authorised])
      .when({ ...authorise, authorizationId: 'auth-2' })
      .thenThrows({ code: 'card_busy' });
  });

  it('completes once; a completion after a reversal is refused', () => {
    const complete = { kind: 'complete', authorizationId: 'auth-1', storeId: 's1', cardCounter: 5, recovered: false } as const;
    const completed: NewDomainEvent = {
      type: 'LoadAuthorisationCompleted',
      data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's1', cardCounter: 5 },
    };
    spec.given([opened, debited, authorised]).when(complete).then([completed]);
    spec.given([opened, debited, authorised, completed]).when(complete).then([]);
    const reversed: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 10_000, newBalance: 50_000, reason: 'released' },
    };
    spec.given([opened, debited, authorised, reversed]).when(complete).thenThrows({ code: 'already_reversed' });
  });

  it('a release by the only holder credits the account back; by another store it is refused', () => {
    const reversed: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 10_000, newBalance: 50_000, reason: 'released' },
    };
    const state = spec
      .given([opened, debited, authorised])
      .when({ kind: 'release', authorizationId: 'auth-1', storeId: 's1' })
      .then([reversed]);
    expect(state.accounts.get(BANK)?.balance).toBe(50_000);
    expect(state.authorisations.get('auth-1')?.status).toBe('reversed');
    spec
      .given([opened, debited, authorised])
      .when({ kind: 'release', authorizationId: 'auth-1', storeId: 's2' })
      .thenThrows({ code: 'not_holder' });
  });

  it('hands an open authorisation over before its deadline only', () => {
    const handOver = { kind: 'hand_over', authorizationId: 'auth-1', storeId: 's2', terminalId: 't9', nowMs: NOW + 1_000 } as const;
    const state = spec
      .given([opened, debited, authorised])
      .when(handOver)
      .then([
        { type: 'LoadAuthorisationHandedOver', data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's2', terminalId: 't9' } },
      ]);
    expect(state.authorisations.get('auth-1')?.holders.map((h) => h.storeId)).toEqual(['s1', 's2']);
    spec
      .given([opened, debited, authorised])
      .when({ ...handOver, nowMs: NOW + 30_000 })
      .thenThrows({ code: 'not_open' });
  });
});

describe('settling an authorisation when its card turns up', () => {
  const auth: Authorisation = {
    authorizationId: 'auth-1',
    cardId: 'card-1',
    bankId: BANK,
    amount: 10_000,
    cardCounter: 4,
    deadlineMs: NOW + 30_000,
    authorisedAtMs: NOW,
    holders: [{ storeId: 's1', terminalId: 't1' }],
    status: 'open',
    creditStarted: true,
  };
  const credit = { cardCounter: 5, amount: 10_000, terminalId: new Uint8Array(8) };
  const margin = 60_000;

  it('a credit at the next counter on the chip is this authorisation: record it', () => {
    expect(settleAtInsertion(auth, { cardCounter: 7, credits: [credit], logCoversFromCounter: 1 }, NOW + 999_999, margin)).toEqual({
      action: 'record',
      credit,
    });
  });
  it('a credit of another amount at that counter is not taken for it', () => {
    expect(
      settleAtInsertion(auth, { cardCounter: 5, credits: [{ ...credit, amount: 1 }], logCoversFromCounter: 1 }, NOW, margin).action,
    ).toBe('open');
  });
  it('chip still at the counter before the deadline: credit now', () => {
    expect(settleAtInsertion(auth, { cardCounter: 4, credits: [], logCoversFromCounter: 1 }, NOW + 1_000, margin).action).toBe('credit');
  });
  it('chip still at the counter after deadline and margin: reverse; within the margin: wait', () => {
    expect(settleAtInsertion(auth, { cardCounter: 4, credits: [], logCoversFromCounter: 1 }, NOW + 30_000 + margin + 1, margin)).toEqual({
      action: 'reverse',
      reason: 'expired_at_card',
    });
    expect(settleAtInsertion(auth, { cardCounter: 4, credits: [], logCoversFromCounter: 1 }, NOW + 30_001, margin).action).toBe('open');
  });
  it('chip moved past the counter without the credit: reverse, unless its log no longer reaches that far', () => {
    expect(settleAtInsertion(auth, { cardCounter: 6, credits: [], logCoversFromCounter: 1 }, NOW, margin)).toEqual({
      action: 'reverse',
      reason: 'card_moved_on',
    });
    expect(settleAtInsertion(auth, { cardCounter: 20, credits: [], logCoversFromCounter: 11 }, NOW, margin).action).toBe('open');
  });

  it('a timeout reverses only when no credit was started and every holder log is past deadline + margin', () => {
    const quiet = { ...auth, creditStarted: false };
    const later = NOW + 30_000 + margin + 1;
    expect(timeoutReversible(quiet, later, margin, () => later)).toBe(true);
    expect(timeoutReversible(quiet, later, margin, () => NOW)).toBe(false);
    expect(timeoutReversible(quiet, NOW + 30_000, margin, () => later)).toBe(false);
    expect(timeoutReversible(auth, later, margin, () => later)).toBe(false);
    expect(
      timeoutReversible({ ...quiet, holders: [...quiet.holders, { storeId: 's2', terminalId: 't' }] }, later, margin, (s) =>
        s === 's1' ? later : undefined,
      ),
    ).toBe(false);
  });
});

describe('the balance cap and the daily load limit at authorisation', () => {
  const rich: NewDomainEvent = { type: 'BankAccountOpened', data: { bankId: BANK, balance: 500_000 } };
  const chipAt = (cardCounter: number, newBalance: number): NewDomainEvent => ({
    type: 'PursePaid',
    data: { cardId: 'card-1', amount: 100, newBalance, cardCounter, storeId: 's1', terminalId: 't1' },
  });
  const authorisedEarlier = (id: string, amount: number, cardCounter: number, atMs: number): NewDomainEvent => ({
    type: 'LoadAuthorised',
    data: { ...authorised.data, authorizationId: id, amount, cardCounter, authorisedAtMs: atMs, deadlineMs: atMs + 30_000 },
  });
  const completedEarlier = (id: string, cardCounter: number): NewDomainEvent => ({
    type: 'LoadAuthorisationCompleted',
    data: { authorizationId: id, cardId: 'card-1', storeId: 's1', cardCounter },
  });

  it('declines a load that would take the chip balance the store read over the cap (balance_cap)', () => {
    spec
      .given([rich])
      .when({ ...authorise, cardBalance: 45_000, amount: 5_001 })
      .thenThrows({ code: 'balance_cap' });
    spec
      .given([rich])
      .when({ ...authorise, cardBalance: 45_000, amount: 5_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 5_000, newBalance: 495_000 } },
        { ...authorised, data: { ...authorised.data, amount: 5_000 } },
      ]);
  });

  it("a store reporting less than head office's shadow balance, with loads still in flight, cannot lift the cap", () => {
    // Head office saw the chip at ¥35,000 at counter 3, then authorised ¥10,000 at counter 3 that may have reached it.
    const inFlight = authorisedEarlier('auth-0', 10_000, 3, NOW - 1_000);
    spec
      .given([rich, chipAt(3, 35_000), inFlight])
      .when({ ...authorise, cardBalance: 0, amount: 5_001 })
      .thenThrows({ code: 'balance_cap' });
    // Once the chip moved past that counter, its balance at the later counter already holds the load.
    spec
      .given([rich, chipAt(3, 35_000), inFlight, completedEarlier('auth-0', 4), chipAt(4, 45_000)])
      .when({ ...authorise, cardBalance: 0, amount: 5_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 5_000, newBalance: 495_000 } },
        { ...authorised, data: { ...authorised.data, amount: 5_000 } },
      ]);
  });

  it("declines loads over the card's daily limit for the business day; reversed loads and yesterday's do not count (daily_limit)", () => {
    const today = [authorisedEarlier('auth-a', 10_000, 1, NOW - 60_000), completedEarlier('auth-a', 2)];
    const more = [authorisedEarlier('auth-b', 15_000, 2, NOW - 30_000), completedEarlier('auth-b', 3)];
    spec
      .given([rich, ...today, ...more])
      .when({ ...authorise, amount: 5_001 })
      .thenThrows({ code: 'daily_limit' });
    spec
      .given([rich, ...today, ...more])
      .when({ ...authorise, amount: 5_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 5_000, newBalance: 495_000 } },
        { ...authorised, data: { ...authorised.data, amount: 5_000 } },
      ]);
    const reversedB: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-b', cardId: 'card-1', bankId: BANK, amount: 15_000, newBalance: 500_000, reason: 'released' },
    };
    spec
      .given([rich, ...today, authorisedEarlier('auth-b', 15_000, 2, NOW - 30_000), reversedB])
      .when({ ...authorise, amount: 20_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 20_000, newBalance: 480_000 } },
        { ...authorised, data: { ...authorised.data, amount: 20_000 } },
      ]);
    // NOW is 07:13 JST; a day earlier is the previous business day.
    spec
      .given([rich, authorisedEarlier('auth-y', 30_000, 1, NOW - 86_400_000), completedEarlier('auth-y', 2)])
      .when({ ...authorise, amount: 30_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 30_000, newBalance: 470_000 } },
        { ...authorised, data: { ...authorised.data, amount: 30_000 } },
      ]);
    spec
      .given([rich])
      .when({ ...authorise, amount: 10_000, limits: { ...DEFAULT_LOAD_LIMITS, dailyLoadLimit: 9_999 } })
      .thenThrows({ code: 'daily_limit' });
  });
});
