import { describe, expect, it } from 'vitest';
import { cardIdBytes, deriveCardKey, generateIssuerMasterKeys, transactionMac } from '../../card/index.js';
import type { NewDomainEvent } from '../../contracts/index.js';
import {
  DEFAULT_LOAD_LIMITS,
  forgedRecords,
  inquiryDecider,
  settleAtInsertion,
  timeoutReversible,
  type Authorisation,
} from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.for(inquiryDecider);
const BANK = '00012345678901';
const NOW = 1_700_000_000_000;
const account: NewDomainEvent = { type: 'BankAccountOpened', data: { bankId: BANK, balance: 50_000 } };
const cardIssued: NewDomainEvent = {
  type: 'CardPrimaryIssued',
  data: { cardId: 'card-1', userId: 'u', bankId: BANK, expiry: '2030-12-31', keyVersion: 1 },
};
// The account open and the card issued by head office for it.
const opened = [account, cardIssued];
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
    const state = spec.given(opened).when(authorise).then([debited, authorised]);
    expect(state.accounts.get(BANK)?.balance).toBe(40_000);
  });

  it('is idempotent by authorisation id: asking again debits nothing more', () => {
    spec
      .given([...opened, debited, authorised])
      .when(authorise)
      .then([]);
  });

  it('refuses the same authorisation id with other terms', () => {
    spec
      .given([...opened, debited, authorised])
      .when({ ...authorise, amount: 9_000 })
      .thenThrows({ code: 'authorisation_conflict' });
  });

  it('refuses when the account holds less than the amount, and for an unknown account', () => {
    spec
      .given(opened)
      .when({ ...authorise, amount: 50_001 })
      .thenThrows({ code: 'insufficient_funds' });
    spec.given([cardIssued]).when(authorise).thenThrows({ code: 'unknown_account' });
  });

  it('fails closed for a card head office never issued: no account is debited for it', () => {
    spec.given([account]).when(authorise).thenThrows({ code: 'unknown_card' });
  });

  it('refuses a card issued for another account', () => {
    const issued: NewDomainEvent = {
      type: 'CardPrimaryIssued',
      data: { cardId: 'card-1', userId: 'u', bankId: '99990000000000', expiry: '2030-12' },
    };
    spec.given([account, issued]).when(authorise).thenThrows({ code: 'card_mismatch' });
  });

  it('refuses a second open authorisation for the same card at the same counter', () => {
    spec
      .given([...opened, debited, authorised])
      .when({ ...authorise, authorizationId: 'auth-2' })
      .thenThrows({ code: 'card_busy' });
  });

  it('completes once; a completion after a reversal is refused', () => {
    const complete = { kind: 'complete', authorizationId: 'auth-1', storeId: 's1', cardCounter: 5, recovered: false } as const;
    const completed: NewDomainEvent = {
      type: 'LoadAuthorisationCompleted',
      data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's1', cardCounter: 5 },
    };
    spec
      .given([...opened, debited, authorised])
      .when(complete)
      .then([completed]);
    spec
      .given([...opened, debited, authorised, completed])
      .when(complete)
      .then([]);
    const reversed: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 10_000, newBalance: 50_000, reason: 'released' },
    };
    spec
      .given([...opened, debited, authorised, reversed])
      .when(complete)
      .thenThrows({ code: 'already_reversed' });
  });

  it('a release by the only holder credits the account back; by another store it is refused', () => {
    const reversed: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 10_000, newBalance: 50_000, reason: 'released' },
    };
    const state = spec
      .given([...opened, debited, authorised])
      .when({ kind: 'release', authorizationId: 'auth-1', storeId: 's1' })
      .then([reversed]);
    expect(state.accounts.get(BANK)?.balance).toBe(50_000);
    expect(state.authorisations.get('auth-1')?.status).toBe('reversed');
    spec
      .given([...opened, debited, authorised])
      .when({ kind: 'release', authorizationId: 'auth-1', storeId: 's2' })
      .thenThrows({ code: 'not_holder' });
  });

  it('hands an open authorisation over before its deadline only', () => {
    const handOver = { kind: 'hand_over', authorizationId: 'auth-1', storeId: 's2', terminalId: 't9', nowMs: NOW + 1_000 } as const;
    const state = spec
      .given([...opened, debited, authorised])
      .when(handOver)
      .then([
        { type: 'LoadAuthorisationHandedOver', data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's2', terminalId: 't9' } },
      ]);
    expect(state.authorisations.get('auth-1')?.holders.map((h) => h.storeId)).toEqual(['s1', 's2']);
    spec
      .given([...opened, debited, authorised])
      .when({ ...handOver, nowMs: NOW + 30_000 })
      .thenThrows({ code: 'not_open' });
  });
});

describe('releases after the store sent the credit', () => {
  const creditStarted: NewDomainEvent = {
    type: 'PurseCreditStarted',
    data: { cardId: 'card-1', authorizationId: 'auth-1', amount: 10_000, cardCounter: 4, storeId: 's1', terminalId: 't1' },
  };
  const record = (operation: 'credit' | 'debit', amount: number) => ({
    operation,
    amount,
    cardCounter: 5,
    newBalance: 1,
    terminalId: new Uint8Array(8),
    cardMac: new Uint8Array(8),
  });
  const chip = (records: ReturnType<typeof record>[]) => ({ storeId: 's1', cardCounter: 5, records, logCoversFromCounter: 1 });
  const release = { kind: 'release', authorizationId: 'auth-1', storeId: 's1' } as const;

  const refused = (reason: string): NewDomainEvent => ({
    type: 'StoreClaimRefused',
    data: { storeId: 's1', cardId: 'card-1', authorizationId: 'auth-1', claim: 'release_after_credit', reason },
  });

  it("are refused on the store's word, and when the chip shows the credit: a refusal naming the store, nothing reversed", () => {
    const state = spec
      .given([...opened, debited, authorised, creditStarted])
      .when(release)
      .then([
        refused(
          "store s1 asks to release authorisation auth-1 after recording that it sent the credit, and the chip's log does not show counter 5 without it",
        ),
      ]);
    expect(state.authorisations.get('auth-1')?.status).toBe('open');
    expect(state.accounts.get(BANK)?.balance).toBe(40_000);
    spec
      .given([...opened, debited, authorised, creditStarted])
      .when({ ...release, chip: chip([record('credit', 10_000)]) })
      .then([refused("store s1 says the card did not take the credit of authorisation auth-1, but the chip's log shows it at counter 5")]);
  });

  it("reverse when the chip's log shows the counter went on without the credit", () => {
    const state = spec
      .given([...opened, debited, authorised, creditStarted])
      .when({ ...release, chip: chip([record('debit', 300)]) })
      .then([
        {
          type: 'LoadAuthorisationReversed',
          data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 10_000, newBalance: 50_000, reason: 'released' },
        },
      ]);
    expect(state.accounts.get(BANK)?.balance).toBe(50_000);
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
  const credit = {
    operation: 'credit' as const,
    cardCounter: 5,
    amount: 10_000,
    newBalance: 10_000,
    terminalId: new Uint8Array(8),
    cardMac: new Uint8Array(8),
  };
  const debit = { ...credit, operation: 'debit' as const, amount: 300 };
  const margin = 60_000;
  const read = (cardCounter: number, records: (typeof credit | typeof debit)[] = [], logCoversFromCounter = 1, storeId = 's1') => ({
    storeId,
    cardCounter,
    records,
    logCoversFromCounter,
  });
  const afterMargin = NOW + 30_000 + margin + 1;

  it('a credit at the next counter on the chip is this authorisation: record it', () => {
    expect(settleAtInsertion(auth, read(7, [credit]), NOW + 999_999, margin)).toEqual({ action: 'record', credit });
  });
  it('a credit of another amount at that counter is not taken for it', () => {
    expect(settleAtInsertion(auth, read(5, [{ ...credit, amount: 1 }]), NOW, margin).action).toBe('open');
  });
  it('chip still at the counter before the deadline: credit now', () => {
    expect(settleAtInsertion(auth, read(4), NOW + 1_000, margin).action).toBe('credit');
  });
  it('chip still at the counter after deadline and margin: reverse on the word of a store that did not send the credit; within the margin: wait', () => {
    expect(settleAtInsertion(auth, read(4, [], 1, 's2'), afterMargin, margin)).toEqual({ action: 'reverse', reason: 'expired_at_card' });
    expect(settleAtInsertion({ ...auth, creditStarted: false }, read(4), afterMargin, margin)).toEqual({
      action: 'reverse',
      reason: 'expired_at_card',
    });
    expect(settleAtInsertion(auth, read(4, [], 1, 's2'), NOW + 30_001, margin).action).toBe('open');
  });
  it('the store that sent the credit cannot get the money back by saying the chip is still at the counter', () => {
    expect(settleAtInsertion(auth, read(4), afterMargin, margin)).toMatchObject({
      action: 'open',
      why: expect.stringContaining('store s1 sent the credit'),
    });
  });
  it("chip moved past the counter: reverse on the chip's record at the next counter, refuse without one the log should hold", () => {
    expect(settleAtInsertion(auth, read(6, [debit]), NOW, margin)).toEqual({ action: 'reverse', reason: 'card_moved_on' });
    expect(settleAtInsertion(auth, read(6), NOW, margin)).toEqual({
      action: 'refuse',
      why: 'store s1 says the card moved past counter 4, but sends no record of the chip at counter 5 that its log covers',
    });
    expect(settleAtInsertion(auth, read(20, [], 11), NOW, margin).action).toBe('open');
  });
  it("head office finds a forged log by the card's MAC", () => {
    const master = generateIssuerMasterKeys(1);
    const cardId = '0102030405060708';
    const terminalId = new Uint8Array(8).fill(7);
    const key = deriveCardKey(master.transaction, cardIdBytes(cardId), 'transaction');
    const mac = transactionMac(key, 'debit', cardIdBytes(cardId), 5, 300, 9_700, terminalId);
    const genuine = { ...debit, newBalance: 9_700, terminalId, cardMac: mac };
    expect(forgedRecords(master, cardId, [genuine])).toEqual([]);
    expect(forgedRecords(master, cardId, [genuine, { ...genuine, amount: 301 }, { ...credit, terminalId }])).toHaveLength(2);
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
      .given([rich, cardIssued])
      .when({ ...authorise, cardBalance: 45_000, amount: 5_001 })
      .thenThrows({ code: 'balance_cap' });
    spec
      .given([rich, cardIssued])
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
      .given([rich, cardIssued, chipAt(3, 35_000), inFlight])
      .when({ ...authorise, cardBalance: 0, amount: 5_001 })
      .thenThrows({ code: 'balance_cap' });
    // Once the chip moved past that counter, its balance at the later counter already holds the load.
    spec
      .given([rich, cardIssued, chipAt(3, 35_000), inFlight, completedEarlier('auth-0', 4), chipAt(4, 45_000)])
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
      .given([rich, cardIssued, ...today, ...more])
      .when({ ...authorise, amount: 5_001 })
      .thenThrows({ code: 'daily_limit' });
    spec
      .given([rich, cardIssued, ...today, ...more])
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
      .given([rich, cardIssued, ...today, authorisedEarlier('auth-b', 15_000, 2, NOW - 30_000), reversedB])
      .when({ ...authorise, amount: 20_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 20_000, newBalance: 480_000 } },
        { ...authorised, data: { ...authorised.data, amount: 20_000 } },
      ]);
    // NOW is 07:13 JST; a day earlier is the previous business day.
    spec
      .given([rich, cardIssued, authorisedEarlier('auth-y', 30_000, 1, NOW - 86_400_000), completedEarlier('auth-y', 2)])
      .when({ ...authorise, amount: 30_000 })
      .then([
        { ...debited, data: { ...debited.data, amount: 30_000, newBalance: 470_000 } },
        { ...authorised, data: { ...authorised.data, amount: 30_000 } },
      ]);
    spec
      .given([rich, cardIssued])
      .when({ ...authorise, amount: 10_000, limits: { ...DEFAULT_LOAD_LIMITS, dailyLoadLimit: 9_999 } })
      .thenThrows({ code: 'daily_limit' });
  });
});
