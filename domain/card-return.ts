// Card return at head office: the customer hands the card back at a store, head office consents to
// terminating the chip at its counter c (the termination MAC is bound to card and counter, not to an
// amount: the chip unloads whatever it holds), and once the chip's unload is recorded credits the
// customer's bank account with it and closes the card.
//
// A card reported lost that turns up at a store is captured the same way, without its holder (no
// PIN: the card is not theirs to hand back) and without a credit: its balance already went to the
// replacement card, and a movement head office had not seen when it moved it is the replacement's
// adjustment (card-replacement.ts). Head office closes it as lost.
//
// The consent moves no money, so it needs no reversal: a return abandoned before the chip took it
// leaves an authorisation that the chip's next movement makes useless. The money moves when the
// chip's unload (its card MAC verified by head office) arrives, once per card.
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';
import { type BlacklistState, evolveBlacklist, initialBlacklistState } from './blacklist.js';
import { DomainRefusal, type Decider } from './decider.js';
import {
  type ChipView,
  type CounterClaim,
  evolveInquiry,
  initialInquiryState,
  type InquiryState,
  openAuthorisationsOf,
  refuseClosedCard,
  refuseForeignCard,
} from './load-authorisation.js';
import { yen } from './purse.js';

export interface UnloadAuthorisation {
  authorizationId: string;
  cardId: string;
  bankId: string;
  /** The chip's balance at the counter, as head office checked it. */
  amount: number;
  /** The chip counter the termination MAC is bound to. */
  cardCounter: number;
  storeId: string;
  terminalId: string;
  /** A lost card's capture: closed as lost, nothing credited. */
  lostCard: boolean;
}

/** What head office knows of returns: the authorisations, and who each card belongs to. */
export interface ReturnsState {
  unloads: Map<string, UnloadAuthorisation>;
  /** Per card and counter (`<card>/<counter>`): the one authorisation given at that counter. */
  byCardCounter: Map<string, string>;
  /** The user of every card head office issued. */
  cardUsers: Map<string, string>;
  /** The cards reported lost: only these are captured at a counter. */
  reportedLost: Set<string>;
}

/** A return's decisions read the bank accounts, the cards' shadow balances and the blacklist too. */
export interface CardReturnState {
  inquiry: InquiryState;
  blacklist: BlacklistState;
  returns: ReturnsState;
}

export type CardReturnCommand =
  | {
      kind: 'authorise_unload';
      authorizationId: string;
      cardId: string;
      bankId: string;
      cardCounter: number;
      /** The chip's balance the store read at cardCounter. */
      cardBalance: number;
      /** The chip's usage log as the store read it, every record's card MAC verified. */
      chip: ChipView;
      /** The card's open refunds (credits at a counter, like loads). */
      openRefunds?: readonly CounterClaim[];
      storeId: string;
      terminalId: string;
      nowMs: number;
      /** A blacklisted card presented without its holder: captured if it was reported lost. */
      lostCard?: boolean;
    }
  | {
      /** A store recorded the chip's unload (PurseUnloaded), its card MAC verified. */
      kind: 'record_unload';
      cardId: string;
      /** Empty when the store found the unload on a terminated card: named by the counter. */
      authorizationId: string;
      amount: number;
      /** The chip's counter after the unload. */
      cardCounter: number;
      storeId: string;
    };

export const initialReturnsState = (): ReturnsState => ({
  unloads: new Map(),
  byCardCounter: new Map(),
  cardUsers: new Map(),
  reportedLost: new Set(),
});

const atCounter = (cardId: string, cardCounter: number) => `${cardId}/${cardCounter}`;

/** Folds the events returns keep state from; updated in place. */
export function evolveReturns(state: ReturnsState, event: DomainEvent): ReturnsState {
  if (event.type === 'CardPrimaryIssued') state.cardUsers.set(event.data.cardId, event.data.userId);
  else if (event.type === 'CardReportedLost') state.reportedLost.add(event.data.cardId);
  else if (event.type === 'UnloadAuthorised') {
    const { authorizationId, cardId, bankId, amount, cardCounter, storeId, terminalId, lostCard } = event.data;
    state.unloads.set(authorizationId, { authorizationId, cardId, bankId, amount, cardCounter, storeId, terminalId, lostCard });
    state.byCardCounter.set(atCounter(cardId, cardCounter), authorizationId);
  }
  return state;
}

/** The authorisation given for this card at this counter, if any. */
export function unloadAt(state: ReturnsState, cardId: string, cardCounter: number): UnloadAuthorisation | undefined {
  const id = state.byCardCounter.get(atCounter(cardId, cardCounter));
  return id === undefined ? undefined : state.unloads.get(id);
}

export function decideCardReturn(command: CardReturnCommand, state: CardReturnState): NewDomainEvent[] {
  return command.kind === 'authorise_unload' ? decideAuthoriseUnload(command, state) : decideRecordUnload(command, state);
}

function decideAuthoriseUnload(
  command: Extract<CardReturnCommand, { kind: 'authorise_unload' }>,
  state: CardReturnState,
): NewDomainEvent[] {
  const { inquiry, returns } = state;
  const earlier = returns.unloads.get(command.authorizationId);
  if (earlier) {
    const same =
      earlier.cardId === command.cardId &&
      earlier.cardCounter === command.cardCounter &&
      earlier.bankId === command.bankId &&
      earlier.lostCard === (command.lostCard ?? false);
    if (!same)
      throw new DomainRefusal('authorisation_conflict', `authorisation ${command.authorizationId} was already asked for with other terms`);
    return [];
  }
  refuseForeignCard(inquiry, command.cardId, command.bankId);
  if (!inquiry.accounts.has(command.bankId)) throw new DomainRefusal('unknown_account', `no bank account ${command.bankId}`);
  refuseClosedCard(inquiry.closedCards, command.cardId);
  const listed = state.blacklist.entries.get(command.cardId);
  if (command.lostCard) {
    if (!listed || !returns.reportedLost.has(command.cardId))
      throw new DomainRefusal('not_reported_lost', `card ${command.cardId} is not blacklisted as reported lost: it is not captured`);
    // Nothing is paid out, so the chip's balance needs no check: whatever it holds is terminated with it.
    if (unloadAt(returns, command.cardId, command.cardCounter)) return [];
    return [unloadAuthorised(command, true)];
  }
  if (listed) {
    throw new DomainRefusal(
      'blacklisted',
      `card ${command.cardId} is reported lost or stolen (${listed.reason}): its balance is not paid out at a counter`,
    );
  }
  const crediting = [
    ...openAuthorisationsOf(inquiry, command.cardId).map((a) => a.authorizationId),
    ...(command.openRefunds ?? []).map((r) => r.id),
  ];
  if (crediting.length > 0) {
    throw new DomainRefusal(
      'card_busy',
      `a credit of card ${command.cardId} (${crediting[0]}) is still being settled: insert the card again once it is`,
    );
  }
  // One authorisation per card counter: asking again there (a lost answer) gets the one given.
  if (unloadAt(returns, command.cardId, command.cardCounter)) return [];
  checkShadowBalance(command, inquiry);
  return [unloadAuthorised(command, false)];
}

function unloadAuthorised(command: Extract<CardReturnCommand, { kind: 'authorise_unload' }>, lostCard: boolean): NewDomainEvent {
  return {
    type: 'UnloadAuthorised',
    data: {
      authorizationId: command.authorizationId,
      cardId: command.cardId,
      bankId: command.bankId,
      amount: command.cardBalance,
      cardCounter: command.cardCounter,
      storeId: command.storeId,
      terminalId: command.terminalId,
      authorisedAtMs: command.nowMs,
      lostCard,
    },
  };
}

/**
 * The balance the store read must be the one head office can account for: at the counter of the
 * card's last movement head office holds, that movement's balance; past it (movements not
 * replicated yet), the chip's own MACed record at the counter, and no more than head office's last
 * balance plus the loads it authorised since.
 */
function checkShadowBalance(command: Extract<CardReturnCommand, { kind: 'authorise_unload' }>, inquiry: InquiryState): void {
  const { cardId, cardCounter, cardBalance } = command;
  const seen = inquiry.cardBalances.get(cardId) ?? { cardCounter: 0, balance: 0 };
  const mismatch = (why: string) =>
    new DomainRefusal('balance_mismatch', `the chip's balance ${yen(cardBalance)} at counter ${cardCounter} ${why}`);
  if (cardCounter < seen.cardCounter)
    throw mismatch(`is older than head office's record of the card at counter ${seen.cardCounter}: read the card again`);
  if (cardCounter === seen.cardCounter) {
    if (cardBalance !== seen.balance) throw mismatch(`is not the ${yen(seen.balance)} head office holds for it`);
    return;
  }
  const record = command.chip.records.find((r) => r.cardCounter === cardCounter);
  if (!record || record.newBalance !== cardBalance) {
    throw new DomainRefusal(
      'balance_unverified',
      `head office has card ${cardId} at counter ${seen.cardCounter}, and the chip's log shows no record of ${yen(cardBalance)} at counter ${cardCounter}`,
    );
  }
  const authorisedSince = [...(inquiry.byCard.get(cardId) ?? [])]
    .map((id) => inquiry.authorisations.get(id)!)
    .filter((a) => a.status !== 'reversed' && a.cardCounter >= seen.cardCounter)
    .reduce((sum, a) => sum + a.amount, 0);
  if (cardBalance > seen.balance + authorisedSince) {
    throw mismatch(
      `is more than head office's ${yen(seen.balance)} at counter ${seen.cardCounter} and the ${yen(authorisedSince)} loaded since`,
    );
  }
}

function decideRecordUnload(command: Extract<CardReturnCommand, { kind: 'record_unload' }>, state: CardReturnState): NewDomainEvent[] {
  const { inquiry, returns } = state;
  // Recorded once per card, however many stores report the unload.
  if (inquiry.closedCards.has(command.cardId)) return [];
  const authorisation = unloadAt(returns, command.cardId, command.cardCounter - 1);
  if (!authorisation || (command.authorizationId !== '' && authorisation.authorizationId !== command.authorizationId)) {
    throw new DomainRefusal(
      'unknown_authorisation',
      `store ${command.storeId} recorded an unload of card ${command.cardId} at counter ${command.cardCounter} that head office did not authorise`,
    );
  }
  const closed: NewDomainEvent = {
    type: 'CardClosed',
    data: {
      cardId: command.cardId,
      userId: returns.cardUsers.get(command.cardId) ?? '',
      reason: authorisation.lostCard ? 'lost' : 'returned',
      storeId: command.storeId,
      authorizationId: authorisation.authorizationId,
      unloadedAmount: command.amount,
    },
  };
  // A lost card's balance went to its replacement: crediting the account too would pay it twice.
  if (authorisation.lostCard) return [closed];
  const balance = inquiry.accounts.get(authorisation.bankId)?.balance ?? 0;
  return [
    {
      type: 'BankAccountCredited',
      data: {
        bankId: authorisation.bankId,
        authorizationId: authorisation.authorizationId,
        // What the chip MACed as leaving it: its balance at the counter, which nothing could change since.
        amount: command.amount,
        newBalance: balance + command.amount,
        cardId: command.cardId,
      },
    },
    closed,
  ];
}

export const cardReturnDecider: Decider<CardReturnCommand, CardReturnState> = {
  initialState: () => ({ inquiry: initialInquiryState(), blacklist: initialBlacklistState(), returns: initialReturnsState() }),
  evolve: (state, event) => {
    evolveInquiry(state.inquiry, event);
    evolveBlacklist(state.blacklist, event);
    evolveReturns(state.returns, event);
    return state;
  },
  decide: decideCardReturn,
};
