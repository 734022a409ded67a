// Head office's refund authorisation: a cashier cancels all or part of a pay by crediting the card,
// charged to the takings of the store where the pay was made. The credit is the chip's CREDIT under
// head office's MAC, bound to the chip's counter, as for a load; the chip's log does not name
// authorisations, so a refund and a load are never open at one counter of a card together.
//
// One refund per pay at most (an authorised refund holds the pay until it is completed or given
// back), never more than was paid, only at the store where it was paid, within the refund window.
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';
import { DomainRefusal } from './decider.js';
import {
  type ClosedCards,
  markClosed,
  markOpen,
  noteClosedCard,
  refuseBusyCounter,
  refuseClosedCard,
  type CounterClaim,
  type OpenByCard,
} from './load-authorisation.js';
import { yen } from './purse.js';
import { JAPAN_BUSINESS_DAY, businessDayOf, type BusinessDayRule } from './store-clearing.js';

/** How long after a pay it may be refunded. */
export interface RefundRules {
  /** Business days after the pay's own: 0 means the same business day only. */
  windowDays: number;
  businessDay: BusinessDayRule;
}

export const DEFAULT_REFUND_RULES: RefundRules = { windowDays: 0, businessDay: JAPAN_BUSINESS_DAY };

/** A pay as head office holds it: what a refund of it is checked against. */
export interface RecordedPay {
  eventId: string;
  cardId: string;
  /** The store whose log holds the pay (its envelope's origin). */
  storeId: string;
  amount: number;
  /** When it happened at the store. */
  occurredAtMs: number;
}

export type RefundStatus = 'open' | 'completed' | 'reversed';

export interface Refund {
  refundId: string;
  payEventId: string;
  cardId: string;
  amount: number;
  /** The chip counter the authorisation is bound to. */
  cardCounter: number;
  deadlineMs: number;
  storeId: string;
  terminalId: string;
  status: RefundStatus;
}

export interface RefundState {
  pays: Map<string, RecordedPay>;
  refunds: Map<string, Refund>;
  /** The refund that holds each pay (open or completed; a reversed one lets the pay go). */
  refundOfPay: Map<string, string>;
  /** Open refunds by card id. */
  openByCard: OpenByCard;
  /** A closed card's balance went to its holder's account (or its replacement): it is refunded no more. */
  closedCards: ClosedCards;
}

/** An event with where and when it was recorded: a pay is named by its event id. */
export interface RefundFact {
  event: DomainEvent;
  eventId: string;
  /** The origin whose log holds the event: a store id, or "hq". */
  origin: string;
  occurredAtMs: number;
}

export type RefundCommand =
  | {
      kind: 'authorise_refund';
      refundId: string;
      payEventId: string;
      cardId: string;
      /** 0: the whole pay. */
      amount: number;
      cardCounter: number;
      storeId: string;
      terminalId: string;
      nowMs: number;
      validForMs: number;
      rules: RefundRules;
      /** The card's open loads: a refund is not authorised at a counter one of them holds. */
      openLoads: readonly CounterClaim[];
    }
  | { kind: 'complete_refund'; refundId: string; storeId: string; cardCounter: number; refundedEventId: string }
  | { kind: 'release_refund'; refundId: string; storeId: string };

export const initialRefundState = (): RefundState => ({
  pays: new Map(),
  refunds: new Map(),
  refundOfPay: new Map(),
  openByCard: new Map(),
  closedCards: new Set(),
});

/** The card's refunds still open, as counters they hold. */
export function openRefundsOf(state: RefundState, cardId: string): CounterClaim[] {
  return [...(state.openByCard.get(cardId) ?? [])].map((id) => ({ id, cardCounter: state.refunds.get(id)!.cardCounter }));
}

function close(state: RefundState, refund: Refund, status: 'completed' | 'reversed'): void {
  refund.status = status;
  markClosed(state.openByCard, refund.cardId, refund.refundId);
  if (status === 'reversed' && state.refundOfPay.get(refund.payEventId) === refund.refundId) state.refundOfPay.delete(refund.payEventId);
}

/** State is updated in place: head office keeps one instance and folds every event into it. */
export function evolveRefunds(state: RefundState, fact: RefundFact): RefundState {
  const { event } = fact;
  switch (event.type) {
    case 'PursePaid':
      state.pays.set(fact.eventId, {
        eventId: fact.eventId,
        cardId: event.data.cardId,
        storeId: fact.origin,
        amount: event.data.amount,
        occurredAtMs: fact.occurredAtMs,
      });
      break;
    case 'RefundAuthorised':
      state.refunds.set(event.data.refundId, {
        refundId: event.data.refundId,
        payEventId: event.data.payEventId,
        cardId: event.data.cardId,
        amount: event.data.amount,
        cardCounter: event.data.cardCounter,
        deadlineMs: event.data.deadlineMs,
        storeId: event.data.storeId,
        terminalId: event.data.terminalId,
        status: 'open',
      });
      state.refundOfPay.set(event.data.payEventId, event.data.refundId);
      markOpen(state.openByCard, event.data.cardId, event.data.refundId);
      break;
    case 'RefundCompleted':
    case 'RefundReversed': {
      const refund = state.refunds.get(event.data.refundId);
      if (refund) close(state, refund, event.type === 'RefundCompleted' ? 'completed' : 'reversed');
      break;
    }
    case 'CardClosed':
      noteClosedCard(state.closedCards, event);
      break;
    default:
      break;
  }
  return state;
}

export function decideRefund(command: RefundCommand, state: RefundState): NewDomainEvent[] {
  switch (command.kind) {
    case 'authorise_refund':
      return decideAuthoriseRefund(command, state);
    case 'complete_refund': {
      const refund = knownRefund(state, command.refundId);
      if (refund.status === 'completed') return [];
      if (refund.status === 'reversed')
        throw new DomainRefusal('already_reversed', `refund ${command.refundId} reached the card after it was given back`);
      return [
        {
          type: 'RefundCompleted',
          data: {
            refundId: refund.refundId,
            cardId: refund.cardId,
            storeId: command.storeId,
            cardCounter: command.cardCounter,
            refundedEventId: command.refundedEventId,
          },
        },
      ];
    }
    case 'release_refund': {
      const refund = knownRefund(state, command.refundId);
      // Before the status: another store learns nothing of a refund it does not hold.
      if (refund.storeId !== command.storeId)
        throw new DomainRefusal('not_holder', `store ${command.storeId} does not hold refund ${command.refundId}`);
      if (refund.status === 'completed')
        throw new DomainRefusal('already_completed', `refund ${command.refundId} reached the card: it is not given back`);
      // Given back already (a retried release): nothing more to record.
      if (refund.status === 'reversed') return [];
      return [
        {
          type: 'RefundReversed',
          data: {
            refundId: refund.refundId,
            payEventId: refund.payEventId,
            cardId: refund.cardId,
            amount: refund.amount,
            reason: 'released',
          },
        },
      ];
    }
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

function decideAuthoriseRefund(command: Extract<RefundCommand, { kind: 'authorise_refund' }>, state: RefundState): NewDomainEvent[] {
  const earlier = state.refunds.get(command.refundId);
  if (earlier) {
    const same =
      earlier.payEventId === command.payEventId &&
      earlier.cardId === command.cardId &&
      earlier.cardCounter === command.cardCounter &&
      (command.amount === 0 || earlier.amount === command.amount);
    if (!same) throw new DomainRefusal('refund_conflict', `refund ${command.refundId} was already asked for with other terms`);
    return [];
  }
  const pay = state.pays.get(command.payEventId);
  if (!pay) throw new DomainRefusal('unknown_pay', `head office holds no pay ${command.payEventId}`);
  refuseClosedCard(state.closedCards, command.cardId);
  if (pay.cardId !== command.cardId)
    throw new DomainRefusal('pay_card_mismatch', `pay ${pay.eventId} was made with another card than ${command.cardId}`);
  if (pay.storeId !== command.storeId)
    throw new DomainRefusal('pay_other_store', `pay ${pay.eventId} was made at store ${pay.storeId}: it is refunded only there`);
  const holding = state.refundOfPay.get(pay.eventId);
  if (holding !== undefined) {
    const refund = state.refunds.get(holding)!;
    throw new DomainRefusal('already_refunded', `pay ${pay.eventId} was already refunded (${yen(refund.amount)}, refund ${holding})`);
  }
  const amount = command.amount === 0 ? pay.amount : command.amount;
  if (amount > pay.amount)
    throw new DomainRefusal('refund_over_paid', `a refund of ${yen(amount)} is more than the ${yen(pay.amount)} paid`);
  const paidOn = businessDayOf(pay.occurredAtMs, command.rules.businessDay);
  const today = businessDayOf(command.nowMs, command.rules.businessDay);
  if ((Date.parse(today) - Date.parse(paidOn)) / DAY_MS > command.rules.windowDays) {
    const window =
      command.rules.windowDays === 0 ? 'on the business day of the pay' : `within ${command.rules.windowDays} day(s) of the pay`;
    throw new DomainRefusal('refund_window_passed', `pay ${pay.eventId} was made on ${paidOn}: a pay is refunded only ${window}`);
  }
  refuseBusyCounter(command.cardId, command.cardCounter, command.openLoads);
  return [
    {
      type: 'RefundAuthorised',
      data: {
        refundId: command.refundId,
        payEventId: pay.eventId,
        cardId: command.cardId,
        amount,
        cardCounter: command.cardCounter,
        deadlineMs: command.nowMs + command.validForMs,
        storeId: command.storeId,
        terminalId: command.terminalId,
        authorisedAtMs: command.nowMs,
      },
    },
  ];
}

function knownRefund(state: RefundState, refundId: string): Refund {
  const refund = state.refunds.get(refundId);
  if (!refund) throw new DomainRefusal('unknown_refund', `no refund ${refundId}`);
  return refund;
}

export const refundDecider = {
  initialState: initialRefundState,
  evolve: evolveRefunds,
  decide: decideRefund,
};
