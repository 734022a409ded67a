// A lost or stolen card replaced with its balance. Head office takes the report (and blacklists
// the card), issues a new card for the same user, and moves the lost card's shadow balance to it
// once every store that saw the lost card has replicated past the report: until then a movement of
// the card could still be on its way. The balance goes to the scheme's replacement account, from
// which head office authorises the new card's load (load-authorisation.ts). A movement of the lost
// card that arrives after the transfer (a store that was offline, unknown to have seen the card)
// corrects the transfer by the difference, and is alerted: nothing is lost, nothing counted twice.
import { HQ_ORIGIN, type DomainEvent, type NewDomainEvent } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';
import { yen } from './purse.js';

/** The scheme's account that holds lost cards' balances on their way to the replacement cards. */
export const REPLACEMENT_ACCOUNT = 'scheme-replacement';

/** One fact of the fold: the event, the origin that wrote it (a store id or "hq"), and when it happened. */
export interface ReplacementFact {
  event: DomainEvent;
  origin: string;
  atMs: number;
}

interface CardSeen {
  userId: string;
  /** The balance at the highest counter head office holds a movement of, and the store that made it. */
  counter: number;
  balance: number;
  lastStoreId: string;
  /** Stores with any event of this card in head office's hands. */
  seenBy: Set<string>;
  /** Closed by head office (returned, or captured after a report): its balance has gone elsewhere. */
  closed: boolean;
}

export interface Replacement {
  oldCardId: string;
  userId: string;
  reportedAtMs: number;
  reportedBy: string;
  reason: string;
  newCardId?: string;
  /** The balance moved to the new card and the lost card's counter it was read at. */
  transferred?: { amount: number; cardCounter: number; atMs: number; storesWaitedFor: string[] };
  /** Every correction of the transfer by a late movement, in order. */
  adjustments: Array<{ amount: number; cardCounter: number; storeId: string; atMs: number }>;
}

export interface ReplacementState {
  cards: Map<string, CardSeen>;
  /** Per store: the latest occurred-at of its events head office holds. */
  storeReachedMs: Map<string, number>;
  /** By the lost card's id. */
  replacements: Map<string, Replacement>;
  /** The lost card each replacement card replaces. */
  replacedBy: Map<string, string>;
}

export type ReplacementCommand =
  | { kind: 'report_lost'; cardId: string; reportedBy: string; reason: string; nowMs: number }
  | { kind: 'issue_replacement'; oldCardId: string; newCardId: string }
  /** Moves the balance when the stores allow it, or corrects a transfer by a late movement; nothing when neither is due. */
  | { kind: 'settle'; oldCardId: string };

export const initialReplacementState = (): ReplacementState => ({
  cards: new Map(),
  storeReachedMs: new Map(),
  replacements: new Map(),
  replacedBy: new Map(),
});

/** The card a store event is about, for the events that tell head office a store saw a card. */
function cardOfStoreEvent(event: DomainEvent): string | undefined {
  switch (event.type) {
    case 'CardIssued':
    case 'CardIssueRejected':
    case 'PurseLoaded':
    case 'PursePaid':
    case 'PurseOperationDeclined':
    case 'PurseCreditStarted':
      return event.data.cardId;
    default:
      return undefined;
  }
}

/** State is updated in place: head office keeps one instance and folds every fact into it. */
export function evolveReplacement(state: ReplacementState, fact: ReplacementFact): ReplacementState {
  const { event, origin, atMs } = fact;
  if (origin !== HQ_ORIGIN) {
    state.storeReachedMs.set(origin, Math.max(state.storeReachedMs.get(origin) ?? 0, atMs));
    const card = state.cards.get(cardOfStoreEvent(event) ?? '');
    card?.seenBy.add(origin);
    if (card && (event.type === 'PurseLoaded' || event.type === 'PursePaid') && event.data.cardCounter > card.counter) {
      card.counter = event.data.cardCounter;
      card.balance = event.data.newBalance;
      card.lastStoreId = origin;
    }
    return state;
  }
  switch (event.type) {
    case 'CardPrimaryIssued':
      state.cards.set(event.data.cardId, {
        userId: event.data.userId,
        counter: 0,
        balance: 0,
        lastStoreId: '',
        seenBy: new Set(),
        closed: false,
      });
      break;
    case 'CardClosed': {
      const card = state.cards.get(event.data.cardId);
      if (card) card.closed = true;
      break;
    }
    case 'CardReportedLost':
      state.replacements.set(event.data.cardId, {
        oldCardId: event.data.cardId,
        userId: event.data.userId,
        reportedAtMs: event.data.reportedAtMs,
        reportedBy: event.data.reportedBy,
        reason: event.data.reason,
        adjustments: [],
      });
      break;
    case 'CardReplacementIssued': {
      const replacement = state.replacements.get(event.data.oldCardId);
      if (replacement) replacement.newCardId = event.data.newCardId;
      state.replacedBy.set(event.data.newCardId, event.data.oldCardId);
      break;
    }
    case 'CardBalanceTransferred': {
      const replacement = state.replacements.get(event.data.oldCardId);
      if (replacement)
        replacement.transferred = {
          amount: event.data.amount,
          cardCounter: event.data.oldCardCounter,
          atMs,
          storesWaitedFor: [...event.data.storesWaitedFor],
        };
      break;
    }
    case 'CardReplacementAdjusted':
      state.replacements.get(event.data.oldCardId)?.adjustments.push({
        amount: event.data.amount,
        cardCounter: event.data.oldCardCounter,
        storeId: event.data.storeId,
        atMs,
      });
      break;
    default:
      break;
  }
  return state;
}

/** The stores that saw the lost card and have not yet replicated past its report. */
export function storesHoldingBack(state: ReplacementState, replacement: Replacement): string[] {
  const seenBy = state.cards.get(replacement.oldCardId)?.seenBy ?? new Set<string>();
  return [...seenBy].filter((storeId) => (state.storeReachedMs.get(storeId) ?? 0) <= replacement.reportedAtMs).sort();
}

/** What the lost card's balance moved so far comes to: the transfer and every correction. */
export function movedSoFar(replacement: Replacement): number {
  return (replacement.transferred?.amount ?? 0) + replacement.adjustments.reduce((sum, a) => sum + a.amount, 0);
}

export type ReplacementStatus = 'reported' | 'waiting_for_stores' | 'transferred' | 'adjusted';

export function replacementStatus(replacement: Replacement): ReplacementStatus {
  if (replacement.adjustments.length > 0) return 'adjusted';
  if (replacement.transferred) return 'transferred';
  return replacement.newCardId ? 'waiting_for_stores' : 'reported';
}

export function decideReplacement(command: ReplacementCommand, state: ReplacementState): NewDomainEvent[] {
  switch (command.kind) {
    case 'report_lost': {
      const card = state.cards.get(command.cardId);
      if (!card) throw new DomainRefusal('unknown_card', `head office never issued card ${command.cardId}`);
      // A closed card's balance went to the bank account at its return: moving it again would pay it twice.
      if (card.closed) throw new DomainRefusal('card_closed', `card ${command.cardId} is closed and holds nothing to replace`);
      if (state.replacements.has(command.cardId))
        throw new DomainRefusal('already_reported', `card ${command.cardId} is already reported lost`);
      const reason = command.reason.trim();
      if (reason.length === 0) throw new DomainRefusal('reason_required', 'a reason is required');
      return [
        {
          type: 'CardReportedLost',
          data: {
            cardId: command.cardId,
            userId: card.userId,
            reportedAtMs: command.nowMs,
            reportedBy: command.reportedBy,
            reason,
          },
        },
      ];
    }
    case 'issue_replacement': {
      const replacement = reported(state, command.oldCardId);
      if (replacement.newCardId)
        throw new DomainRefusal('already_replaced', `card ${command.oldCardId} is already replaced by card ${replacement.newCardId}`);
      const card = state.cards.get(command.newCardId);
      if (!card) throw new DomainRefusal('unknown_card', `head office never issued card ${command.newCardId}`);
      if (card.userId !== replacement.userId)
        throw new DomainRefusal('other_user', `card ${command.newCardId} is not issued to the lost card's user ${replacement.userId}`);
      return [
        {
          type: 'CardReplacementIssued',
          data: { oldCardId: command.oldCardId, newCardId: command.newCardId, userId: replacement.userId },
        },
      ];
    }
    case 'settle':
      return settle(state, reported(state, command.oldCardId));
  }
}

function reported(state: ReplacementState, cardId: string): Replacement {
  const replacement = state.replacements.get(cardId);
  if (!replacement) throw new DomainRefusal('not_reported', `card ${cardId} is not reported lost`);
  return replacement;
}

function settle(state: ReplacementState, replacement: Replacement): NewDomainEvent[] {
  const { oldCardId, newCardId } = replacement;
  if (!newCardId) return [];
  const card = state.cards.get(oldCardId)!;
  if (!replacement.transferred) {
    if (storesHoldingBack(state, replacement).length > 0) return [];
    return [
      {
        type: 'CardBalanceTransferred',
        data: {
          oldCardId,
          newCardId,
          amount: card.balance,
          oldCardCounter: card.counter,
          storesWaitedFor: [...card.seenBy].sort(),
        },
      },
    ];
  }
  const difference = card.balance - movedSoFar(replacement);
  const lastCounter = replacement.adjustments.at(-1)?.cardCounter ?? replacement.transferred.cardCounter;
  if (difference === 0 || card.counter <= lastCounter) return [];
  const credited =
    difference > 0 ? `${yen(difference)} more is due to card ${newCardId}` : `card ${newCardId} was credited ${yen(-difference)} too much`;
  return [
    {
      type: 'CardReplacementAdjusted',
      data: {
        oldCardId,
        newCardId,
        amount: difference,
        oldCardCounter: card.counter,
        oldCardBalance: card.balance,
        storeId: card.lastStoreId,
        reason: `a movement of lost card ${oldCardId} from store ${card.lastStoreId} reached head office after its balance was transferred: the card held ${yen(card.balance)} at counter ${card.counter}, and ${credited}`,
      },
    },
  ];
}

export const cardReplacementDecider = {
  initialState: initialReplacementState,
  evolve: evolveReplacement,
  decide: decideReplacement,
} satisfies Omit<Decider<ReplacementCommand, ReplacementState>, 'evolve'> & {
  evolve(state: ReplacementState, fact: ReplacementFact): ReplacementState;
};
