import { describe, expect, it } from 'vitest';
import type { DomainEvent, NewDomainEvent } from '../../contracts/index.js';
import { DEFAULT_LOAD_DEADLINES, loadOverdueAlert, loadReconciliationDecider, type LoadFact } from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.forFacts(loadReconciliationDecider, (event): LoadFact => ({ type: 'event', event, origin: 'hq' }));
const BANK = '00012345678901';
const T0 = 1_750_000_000_000;
const DEADLINE = T0 + 30_000;
const GRACE = DEFAULT_LOAD_DEADLINES;

const hq = (event: NewDomainEvent): LoadFact => ({ type: 'event', event: event as DomainEvent, origin: 'hq' });
const fromStore = (event: NewDomainEvent, creditMacValid = true): LoadFact => ({
  type: 'event',
  event: event as DomainEvent,
  origin: 's1',
  creditMacValid,
});
const head = (origin: string, receivedAtMs: number): LoadFact => ({ type: 'head', origin, receivedAtMs });

const debited = hq({
  type: 'BankAccountDebited',
  data: { bankId: BANK, authorizationId: 'auth-1', amount: 5_000, newBalance: 15_000, cardId: 'card-1' },
});
const authorised = hq({
  type: 'LoadAuthorised',
  data: {
    authorizationId: 'auth-1',
    cardId: 'card-1',
    bankId: BANK,
    amount: 5_000,
    cardCounter: 0,
    deadlineMs: DEADLINE,
    storeId: 's1',
    terminalId: 'pos-1',
  },
});
const creditStartedEvent: NewDomainEvent = {
  type: 'PurseCreditStarted',
  data: { cardId: 'card-1', authorizationId: 'auth-1', amount: 5_000, cardCounter: 0, storeId: 's1', terminalId: 'pos-1' },
};
const creditStarted = fromStore(creditStartedEvent);
const loadedEvent: NewDomainEvent = {
  type: 'PurseLoaded',
  data: {
    cardId: 'card-1',
    amount: 5_000,
    newBalance: 5_000,
    cardCounter: 1,
    authorizationId: 'auth-1',
    cardMac: new Uint8Array(8),
    storeId: 's1',
    terminalId: 'pos-1',
  },
};
const loaded = fromStore(loadedEvent);
const completed = hq({
  type: 'LoadAuthorisationCompleted',
  data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's1', cardCounter: 1 },
});

const overdueData = (state: string, stateSinceMs: number, overdueAtMs: number) => ({
  authorizationId: 'auth-1',
  cardId: 'card-1',
  bankId: BANK,
  amount: 5_000,
  state,
  stateSinceMs,
  overdueAtMs,
  storeId: 's1',
  terminalId: 'pos-1',
});
const overdue = (state: string, stateSinceMs: number, overdueAtMs: number): NewDomainEvent => ({
  type: 'LoadOverdue',
  data: overdueData(state, stateSinceMs, overdueAtMs),
});
const check = (nowMs: number) => ({ kind: 'check_loads', nowMs, deadlines: GRACE }) as const;
const debitedOnly = [debited, authorised, head('hq', T0)];

describe('load reconciliation', () => {
  it('a load debited and not credited is fine until the deadline and its grace, then overdue once', () => {
    spec
      .given(debitedOnly)
      .when(check(DEADLINE + GRACE.debitGraceMs - 1))
      .then([]);
    const state = spec
      .given(debitedOnly)
      .when(check(DEADLINE + GRACE.debitGraceMs))
      .then([overdue('debited', T0, DEADLINE + GRACE.debitGraceMs)]);
    expect(state.get('auth-1')).toMatchObject({ state: 'debited', alertedState: 'debited' });
    spec
      .given([...debitedOnly, hq(overdue('debited', T0, DEADLINE + GRACE.debitGraceMs))])
      .when(check(DEADLINE + 10 * GRACE.debitGraceMs))
      .then([]);
  });

  it('the alert for a stuck debit says the account was debited and the card not credited', () => {
    const alert = loadOverdueAlert(overdueData('debited', T0, DEADLINE));
    expect(alert.kind).toBe('debited_not_credited');
    expect(alert.message).toContain('the account debited and no credit of the card heard of');
    expect(loadOverdueAlert(overdueData('credit_started', T0, DEADLINE)).kind).toBe('debited_not_credited');
    expect(loadOverdueAlert(overdueData('credited', T0, DEADLINE)).kind).toBe('load_unconfirmed');
  });

  it('a credit started counts from when head office learnt of it, not from when the store says it happened', () => {
    const started = [...debitedOnly, creditStarted];
    // The store's chain head has not reached head office: nothing is known of when, so nothing is due yet.
    spec
      .given(started)
      .when(check(DEADLINE + 100 * GRACE.creditGraceMs))
      .then([]);
    const learnt = DEADLINE + 500_000;
    spec
      .given([...started, head('s1', learnt)])
      .when(check(learnt + GRACE.creditGraceMs - 1))
      .then([]);
    spec
      .given([...started, head('s1', learnt)])
      .when(check(learnt + GRACE.creditGraceMs))
      .then([overdue('credit_started', learnt, learnt + GRACE.creditGraceMs)]);
  });

  it('a load that moves on gets a new deadline and its earlier alert is no longer open', () => {
    const alerted = [...debitedOnly, hq(overdue('debited', T0, DEADLINE + GRACE.debitGraceMs))];
    const state = spec
      .given([...alerted, creditStarted, loaded, head('s1', DEADLINE + 90_000)])
      .when(check(DEADLINE + 90_000))
      .then([]);
    expect(state.get('auth-1')).toMatchObject({ state: 'credited', alertedState: 'debited', stateSinceMs: DEADLINE + 90_000 });
    spec
      .given([...alerted, creditStarted, loaded, head('s1', DEADLINE + 90_000)])
      .when(check(DEADLINE + 90_000 + GRACE.confirmGraceMs))
      .then([overdue('credited', DEADLINE + 90_000, DEADLINE + 90_000 + GRACE.confirmGraceMs)]);
  });

  it('confirmed and reversed loads are never overdue', () => {
    const late = DEADLINE + 365 * 24 * 3_600_000;
    spec
      .given([...debitedOnly, creditStarted, loaded, head('s1', T0 + 1_000), completed, head('hq', T0 + 1_100)])
      .when(check(late))
      .then([]);
    const reversed = hq({
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-1', cardId: 'card-1', bankId: BANK, amount: 5_000, newBalance: 20_000, reason: 'timeout' },
    });
    spec
      .given([...debitedOnly, reversed, head('hq', DEADLINE + 1)])
      .when(check(late))
      .then([]);
  });

  it('a card credit whose card MAC fails does not count: the stuck debit stays overdue', () => {
    const forgedCredit = fromStore(loadedEvent, false);
    spec
      .given([...debitedOnly, forgedCredit, head('s1', T0 + 1)])
      .when(check(DEADLINE + GRACE.debitGraceMs))
      .then([overdue('debited', T0, DEADLINE + GRACE.debitGraceMs)]);
  });

  it("takes head office's load events only from head office, and the card's credit only from a store", () => {
    const forged = fromStore({
      type: 'LoadAuthorisationCompleted',
      data: { authorizationId: 'auth-1', cardId: 'card-1', storeId: 's1', cardCounter: 1 },
    });
    spec
      .given([...debitedOnly, forged])
      .when(check(DEADLINE + GRACE.debitGraceMs))
      .then([overdue('debited', T0, DEADLINE + GRACE.debitGraceMs)]);
    const state = spec
      .given([...debitedOnly, hq(creditStartedEvent)])
      .when(check(T0))
      .then([]);
    expect(state.get('auth-1')?.state).toBe('debited');
  });
});
