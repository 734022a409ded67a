import { describe, expect, it } from 'vitest';
import type { DomainEvent, NewDomainEvent } from '../../contracts/index.js';
import {
  cardReplacementDecider,
  inquiryDecider,
  REPLACEMENT_ACCOUNT,
  replacementStatus,
  storesHoldingBack,
  type ReplacementFact,
} from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const REPORTED_AT = 1_700_000_000_000;
// Facts as head office folds them: the event, its origin and when it happened.
const at = (origin: string, atMs: number, event: NewDomainEvent): ReplacementFact => ({ event: event as DomainEvent, origin, atMs });
const asFact = (event: DomainEvent): ReplacementFact => ({ event, origin: 'hq', atMs: REPORTED_AT });
const spec = DeciderSpecification.forFacts(cardReplacementDecider, asFact);

const issued = (cardId: string, userId = 'u1') =>
  at('hq', 0, { type: 'CardPrimaryIssued', data: { cardId, userId, bankId: '00012345678901', expiry: '2030-12-31', keyVersion: 1 } });
const movement = (store: string, atMs: number, type: 'PurseLoaded' | 'PursePaid', amount: number, counter: number, balance: number) =>
  at(store, atMs, { type, data: { cardId: 'old', amount, newBalance: balance, cardCounter: counter, storeId: store } });
const lost = at('hq', REPORTED_AT, {
  type: 'CardReportedLost',
  data: { cardId: 'old', userId: 'u1', reportedAtMs: REPORTED_AT, reportedBy: 'clerk:desk-1', reason: 'lost on the train' },
});
const replaced = at('hq', REPORTED_AT + 1, {
  type: 'CardReplacementIssued',
  data: { oldCardId: 'old', newCardId: 'new', userId: 'u1' },
});
const transferred: NewDomainEvent = {
  type: 'CardBalanceTransferred',
  data: { oldCardId: 'old', newCardId: 'new', amount: 7_500, oldCardCounter: 1, storesWaitedFor: ['s1'] },
};
// The lost card loaded with ¥7,500 at store s1 before the report.
const history = [issued('old'), issued('new'), movement('s1', REPORTED_AT - 5_000, 'PurseLoaded', 7_500, 1, 7_500)];

describe('a lost card replaced with its balance', () => {
  it('takes the report of an issued, open card once, naming who reported it', () => {
    spec
      .given(history)
      .when({ kind: 'report_lost', cardId: 'old', reportedBy: 'clerk:desk-1', reason: ' lost on the train ', nowMs: REPORTED_AT })
      .then([lost.event]);
    spec
      .given([])
      .when({ kind: 'report_lost', cardId: 'old', reportedBy: 'x', reason: 'lost', nowMs: 0 })
      .thenThrows({ code: 'unknown_card' });
    spec
      .given([...history, lost])
      .when({ kind: 'report_lost', cardId: 'old', reportedBy: 'x', reason: 'lost', nowMs: 0 })
      .thenThrows({ code: 'already_reported' });
    spec
      .given(history)
      .when({ kind: 'report_lost', cardId: 'old', reportedBy: 'x', reason: ' ', nowMs: 0 })
      .thenThrows({ code: 'reason_required' });
    spec
      .given([
        ...history,
        at('hq', REPORTED_AT - 1_000, {
          type: 'CardClosed',
          data: { cardId: 'old', userId: 'u1', reason: 'returned', storeId: 's1', authorizationId: 'u-1', unloadedAmount: 7_500 },
        }),
      ])
      .when({ kind: 'report_lost', cardId: 'old', reportedBy: 'x', reason: 'lost', nowMs: REPORTED_AT })
      .thenThrows({ code: 'card_closed' });
  });

  it('replaces a reported card once, with a card of the same user', () => {
    const state = spec
      .given([...history, lost])
      .when({ kind: 'issue_replacement', oldCardId: 'old', newCardId: 'new' })
      .then([replaced.event]);
    expect(replacementStatus(state.replacements.get('old')!)).toBe('waiting_for_stores');
    spec.given(history).when({ kind: 'issue_replacement', oldCardId: 'old', newCardId: 'new' }).thenThrows({ code: 'not_reported' });
    spec
      .given([...history, lost, replaced])
      .when({ kind: 'issue_replacement', oldCardId: 'old', newCardId: 'new' })
      .thenThrows({ code: 'already_replaced' });
    spec
      .given([...history, issued('other', 'u2'), lost])
      .when({ kind: 'issue_replacement', oldCardId: 'old', newCardId: 'other' })
      .thenThrows({ code: 'other_user' });
  });

  it('waits until every store that saw the card has replicated past the report, then moves its shadow balance', () => {
    const waiting = spec
      .given([...history, lost, replaced])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([]);
    expect(storesHoldingBack(waiting, waiting.replacements.get('old')!)).toEqual(['s1']);
    // Another store's event after the report does not free the balance; s1's does.
    spec
      .given([...history, lost, replaced, at('s2', REPORTED_AT + 10, { type: 'CardIssued', data: { cardId: 'x', storeId: 's2' } })])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([]);
    const state = spec
      .given([...history, lost, replaced, at('s1', REPORTED_AT + 10, { type: 'CardIssued', data: { cardId: 'new', storeId: 's1' } })])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([transferred]);
    expect(replacementStatus(state.replacements.get('old')!)).toBe('transferred');
    // Nothing moves twice.
    spec
      .given([
        ...history,
        lost,
        replaced,
        at('s1', REPORTED_AT + 10, { type: 'CardIssued', data: { cardId: 'new', storeId: 's1' } }),
        asFact(transferred as DomainEvent),
      ])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([]);
  });

  it("adjusts the transfer when an offline store's pay of the lost card arrives after it", () => {
    const before = [...history, lost, replaced, at('s1', REPORTED_AT + 10, { type: 'CardIssued', data: { cardId: 'new', storeId: 's1' } })];
    const adjusted: NewDomainEvent = {
      type: 'CardReplacementAdjusted',
      data: {
        oldCardId: 'old',
        newCardId: 'new',
        amount: -1_200,
        oldCardCounter: 2,
        oldCardBalance: 6_300,
        storeId: 's2',
        reason:
          'a movement of lost card old from store s2 reached head office after its balance was transferred: the card held ¥6,300 at counter 2, and card new was credited ¥1,200 too much',
      },
    };
    const state = spec
      .given([...before, asFact(transferred as DomainEvent), movement('s2', REPORTED_AT - 1_000, 'PursePaid', 1_200, 2, 6_300)])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([adjusted]);
    expect(replacementStatus(state.replacements.get('old')!)).toBe('adjusted');
    // Once adjusted, the same movement adjusts nothing again; a movement at an older counter changes nothing.
    spec
      .given([
        ...before,
        asFact(transferred as DomainEvent),
        movement('s2', 0, 'PursePaid', 1_200, 2, 6_300),
        asFact(adjusted as DomainEvent),
      ])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([]);
    spec
      .given([...before, asFact(transferred as DomainEvent), movement('s2', 0, 'PursePaid', 500, 1, 7_000)])
      .when({ kind: 'settle', oldCardId: 'old' })
      .then([]);
  });
});

describe("the replacement card's load from the replacement account", () => {
  const inquiry = DeciderSpecification.for(inquiryDecider);
  const command = {
    kind: 'authorise_replacement',
    authorizationId: 'auth-r',
    cardId: 'new',
    cardCounter: 0,
    storeId: 's1',
    terminalId: 't1',
    nowMs: REPORTED_AT,
    validForMs: 60_000,
  } as const;
  const debited: NewDomainEvent = {
    type: 'BankAccountDebited',
    data: { bankId: REPLACEMENT_ACCOUNT, authorizationId: 'auth-r', amount: 7_500, newBalance: 0, cardId: 'new' },
  };
  const authorised: NewDomainEvent = {
    type: 'LoadAuthorised',
    data: {
      authorizationId: 'auth-r',
      cardId: 'new',
      bankId: REPLACEMENT_ACCOUNT,
      amount: 7_500,
      cardCounter: 0,
      deadlineMs: REPORTED_AT + 60_000,
      storeId: 's1',
      terminalId: 't1',
      authorisedAtMs: REPORTED_AT,
    },
  };

  it('authorises what was transferred, once, and never from the customer’s account', () => {
    const state = inquiry.given([transferred]).when(command).then([debited, authorised]);
    expect(state.replacementDue.get('new')).toBe(0);
    inquiry
      .given([transferred, debited, authorised])
      .when({ ...command, authorizationId: 'auth-2', cardCounter: 1 })
      .thenThrows({ code: 'nothing_due' });
    inquiry.given([]).when(command).thenThrows({ code: 'nothing_due' });
  });

  it('a reversed transfer load is due again; a correction downwards leaves nothing due', () => {
    const reversed: NewDomainEvent = {
      type: 'LoadAuthorisationReversed',
      data: { authorizationId: 'auth-r', cardId: 'new', bankId: REPLACEMENT_ACCOUNT, amount: 7_500, newBalance: 7_500, reason: 'timeout' },
    };
    inquiry
      .given([transferred, debited, authorised, reversed])
      .when({ ...command, authorizationId: 'auth-3' })
      .then([
        { ...debited, data: { ...debited.data, authorizationId: 'auth-3' } },
        { ...authorised, data: { ...authorised.data, authorizationId: 'auth-3' } },
      ]);
    const correction: NewDomainEvent = {
      type: 'CardReplacementAdjusted',
      data: { oldCardId: 'old', newCardId: 'new', amount: -1_200, oldCardCounter: 2, oldCardBalance: 6_300, storeId: 's2', reason: 'late' },
    };
    const state = inquiry
      .given([transferred, debited, authorised, correction])
      .when({ kind: 'open_account', bankId: 'b', balance: 0 })
      .then([{ type: 'BankAccountOpened', data: { bankId: 'b', balance: 0 } }]);
    expect(state.replacementDue.get('new')).toBe(-1_200);
  });
});
