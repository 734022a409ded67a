// Head office's inquiry centre: bank accounts (debited for loads, credited back on reversal) and
// load authorisations, decided so that the money ends up either on the card or back in the account,
// never both and never neither.
//
// An authorisation is bound to the chip's counter c when it was asked for; the chip accepts it only
// while its counter is still c, and a credit moves the counter to c + 1. Stores record
// PurseCreditStarted before they send the credit, so a store log that goes past the deadline without
// one proves the credit never happened there.
//
// Head office believes the chip, not the store: what a store reports of a chip counts only as far
// as the chip's own records (card MACs under K_txn, which no store holds) bear it out. Once a store
// recorded sending the credit, its word that the chip did not take it returns no money; a record
// of the chip at counter c + 1 that is not the credit does, and so does another store's reading.
import { toHex, verifyCardMac, type IssuerMasterKeys } from '../card/index.js';
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';
import { JAPAN_BUSINESS_DAY, businessDayOf, type BusinessDayRule } from './store-clearing.js';
import { yen } from './purse.js';
import { REPLACEMENT_ACCOUNT } from './card-replacement.js';

/** The scheme's limits head office enforces when it authorises a load. */
export interface LoadLimits {
  /** No card may hold more than this (yen) after a load. */
  balanceCap: number;
  /** Loads authorised for one card in one business day add up to at most this (yen). */
  dailyLoadLimit: number;
  businessDay: BusinessDayRule;
}

export const DEFAULT_LOAD_LIMITS: LoadLimits = { balanceCap: 50_000, dailyLoadLimit: 30_000, businessDay: JAPAN_BUSINESS_DAY };

export interface Account {
  bankId: string;
  balance: number;
}

export type AuthorisationStatus = 'open' | 'completed' | 'reversed';

export interface Holder {
  storeId: string;
  terminalId: string;
}

export interface Authorisation {
  authorizationId: string;
  cardId: string;
  bankId: string;
  amount: number;
  /** The chip counter the authorisation is bound to. */
  cardCounter: number;
  deadlineMs: number;
  /** When head office authorised it (the deadline for authorisations recorded without it). */
  authorisedAtMs: number;
  /** Stores that were given the authorisation MAC: the one that asked, then any it was handed over to. */
  holders: Holder[];
  status: AuthorisationStatus;
  /** A store recorded that it sent the credit to the card. */
  creditStarted: boolean;
  reversalReason?: string;
}

export interface InquiryState {
  accounts: Map<string, Account>;
  /** Bank id of every card head office issued. */
  cardAccounts: Map<string, string>;
  authorisations: Map<string, Authorisation>;
  /** Open authorisations by card id. */
  openByCard: OpenByCard;
  /** Every authorisation by card id, oldest first (the daily load limit counts them). */
  byCard: Map<string, string[]>;
  /** The chip balance at the highest counter head office has seen a MAC'd movement of, per card. */
  cardBalances: Map<string, { cardCounter: number; balance: number }>;
  /** Cards head office closed (returned): none is loaded again. */
  closedCards: ClosedCards;
  /** Per replacement card: what of the lost card's balance waits to be authorised onto it (negative: credited too much). */
  replacementDue: Map<string, number>;
}

/** One record of a chip's usage log, with the card's MAC over it. */
export interface ChipRecord {
  operation: 'credit' | 'debit';
  amount: number;
  /** The counter this operation got. */
  cardCounter: number;
  newBalance: number;
  terminalId: Uint8Array;
  cardMac: Uint8Array;
}

/** What a store read of the chip at an insertion. */
export interface ChipView {
  /** The store that read it (and so reports it). */
  storeId: string;
  /** The counter as the store reports it (no MAC covers it). */
  cardCounter: number;
  /** The usage log's records, each card MAC verified (a log with one that fails is refused whole). */
  records: ChipRecord[];
  /** Lowest counter the chip's usage log still covers, as the store reports it. */
  logCoversFromCounter: number;
}

/** The records whose card MAC is not the one the card makes with its transaction key: a forged log. */
export function forgedRecords(keys: IssuerMasterKeys, cardId: string, records: ChipRecord[]): ChipRecord[] {
  return records.filter(
    (record) =>
      !verifyCardMac(keys, {
        operation: record.operation,
        cardId,
        counter: record.cardCounter,
        amount: record.amount,
        newBalance: record.newBalance,
        terminalId: toHex(record.terminalId),
        mac: toHex(record.cardMac),
      }),
  );
}

export type InquiryCommand =
  | { kind: 'open_account'; bankId: string; balance: number }
  | {
      kind: 'authorise';
      authorizationId: string;
      cardId: string;
      bankId: string;
      amount: number;
      cardCounter: number;
      storeId: string;
      terminalId: string;
      nowMs: number;
      validForMs: number;
      /** The chip's balance the store read at cardCounter (0 when it sent none). */
      cardBalance: number;
      limits: LoadLimits;
      /** The card's open refunds (domain/refund-authorisation.ts): a load is not authorised at a counter one of them holds. */
      openRefunds?: readonly CounterClaim[];
    }
  | { kind: 'complete'; authorizationId: string; storeId: string; cardCounter: number; recovered: boolean }
  | { kind: 'release'; authorizationId: string; storeId: string; chip?: ChipView | undefined }
  | { kind: 'hand_over'; authorizationId: string; storeId: string; terminalId: string; nowMs: number }
  | { kind: 'reverse'; authorizationId: string; reason: ReversalReason }
  | {
      /** A replacement card's load of what is due to it, from the replacement account, bound to the chip's counter. */
      kind: 'authorise_replacement';
      authorizationId: string;
      cardId: string;
      cardCounter: number;
      storeId: string;
      terminalId: string;
      nowMs: number;
      validForMs: number;
    };

export type ReversalReason = 'released' | 'card_moved_on' | 'expired_at_card' | 'timeout';

export const initialInquiryState = (): InquiryState => ({
  accounts: new Map(),
  cardAccounts: new Map(),
  authorisations: new Map(),
  openByCard: new Map(),
  byCard: new Map(),
  cardBalances: new Map(),
  closedCards: new Set(),
  replacementDue: new Map(),
});

function addDue(state: InquiryState, cardId: string, amount: number): void {
  state.replacementDue.set(cardId, (state.replacementDue.get(cardId) ?? 0) + amount);
}

/** The card's authorisations still open. */
export function openAuthorisationsOf(state: InquiryState, cardId: string): Authorisation[] {
  return [...(state.openByCard.get(cardId) ?? [])].map((id) => state.authorisations.get(id)!);
}

/** Ids still open, by card id: the index of open loads and of open refunds. */
export type OpenByCard = Map<string, Set<string>>;

export function markOpen(openByCard: OpenByCard, cardId: string, id: string): void {
  openByCard.set(cardId, (openByCard.get(cardId) ?? new Set()).add(id));
}

export function markClosed(openByCard: OpenByCard, cardId: string, id: string): void {
  const open = openByCard.get(cardId);
  open?.delete(id);
  if (open?.size === 0) openByCard.delete(cardId);
}

function closeAuthorisation(state: InquiryState, authorisation: Authorisation, status: 'completed' | 'reversed'): void {
  authorisation.status = status;
  markClosed(state.openByCard, authorisation.cardId, authorisation.authorizationId);
}

/** State is updated in place: head office keeps one instance and folds every event into it. */
export function evolveInquiry(state: InquiryState, event: DomainEvent): InquiryState {
  switch (event.type) {
    case 'BankAccountOpened':
      state.accounts.set(event.data.bankId, { bankId: event.data.bankId, balance: event.data.balance });
      break;
    case 'CardPrimaryIssued':
      state.cardAccounts.set(event.data.cardId, event.data.bankId);
      break;
    case 'BankAccountDebited':
    case 'BankAccountCredited': {
      const account = state.accounts.get(event.data.bankId);
      if (account) account.balance = event.data.newBalance;
      break;
    }
    case 'CardClosed':
      noteClosedCard(state.closedCards, event);
      break;
    case 'LoadAuthorised':
      state.authorisations.set(event.data.authorizationId, {
        authorizationId: event.data.authorizationId,
        cardId: event.data.cardId,
        bankId: event.data.bankId,
        amount: event.data.amount,
        cardCounter: event.data.cardCounter,
        deadlineMs: event.data.deadlineMs,
        authorisedAtMs: event.data.authorisedAtMs || event.data.deadlineMs,
        holders: [{ storeId: event.data.storeId, terminalId: event.data.terminalId }],
        status: 'open',
        creditStarted: false,
      });
      markOpen(state.openByCard, event.data.cardId, event.data.authorizationId);
      state.byCard.set(event.data.cardId, [...(state.byCard.get(event.data.cardId) ?? []), event.data.authorizationId]);
      if (event.data.bankId === REPLACEMENT_ACCOUNT) addDue(state, event.data.cardId, -event.data.amount);
      break;
    case 'CardBalanceTransferred':
    case 'CardReplacementAdjusted': {
      const { amount } = event.data;
      addDue(state, event.data.newCardId, amount);
      // The account takes what comes in; a correction downwards is owed by no account, only alerted.
      if (amount > 0) {
        const account = state.accounts.get(REPLACEMENT_ACCOUNT) ?? { bankId: REPLACEMENT_ACCOUNT, balance: 0 };
        account.balance += amount;
        state.accounts.set(REPLACEMENT_ACCOUNT, account);
      }
      break;
    }
    case 'PurseLoaded':
    case 'PursePaid':
    case 'PurseRefunded':
    case 'PurseUnloaded': {
      const known = state.cardBalances.get(event.data.cardId);
      if (!known || event.data.cardCounter >= known.cardCounter)
        state.cardBalances.set(event.data.cardId, { cardCounter: event.data.cardCounter, balance: chipBalanceAfter(event) });
      break;
    }
    case 'LoadAuthorisationHandedOver':
      state.authorisations
        .get(event.data.authorizationId)
        ?.holders.push({ storeId: event.data.storeId, terminalId: event.data.terminalId });
      break;
    case 'LoadAuthorisationCompleted': {
      const authorisation = state.authorisations.get(event.data.authorizationId);
      if (authorisation) closeAuthorisation(state, authorisation, 'completed');
      break;
    }
    case 'LoadAuthorisationReversed': {
      const authorisation = state.authorisations.get(event.data.authorizationId);
      if (authorisation) {
        closeAuthorisation(state, authorisation, 'reversed');
        authorisation.reversalReason = event.data.reason;
      }
      if (event.data.bankId === REPLACEMENT_ACCOUNT) addDue(state, event.data.cardId, event.data.amount);
      const account = state.accounts.get(event.data.bankId);
      if (account) account.balance = event.data.newBalance;
      break;
    }
    case 'PurseCreditStarted': {
      const authorisation = state.authorisations.get(event.data.authorizationId);
      if (authorisation) authorisation.creditStarted = true;
      break;
    }
    default:
      break;
  }
  return state;
}

export function decideInquiry(command: InquiryCommand, state: InquiryState): NewDomainEvent[] {
  switch (command.kind) {
    case 'open_account': {
      if (state.accounts.has(command.bankId)) throw new DomainRefusal('account_exists', `bank account ${command.bankId} is already open`);
      return [{ type: 'BankAccountOpened', data: { bankId: command.bankId, balance: command.balance } }];
    }
    case 'authorise':
      return decideAuthorise(command, state);
    case 'authorise_replacement':
      return decideReplacementLoad(command, state);
    case 'complete': {
      const authorisation = known(state, command.authorizationId);
      if (authorisation.status === 'completed') return [];
      if (authorisation.status === 'reversed') {
        throw new DomainRefusal(
          'already_reversed',
          `authorisation ${command.authorizationId} reached the card after it was reversed (${authorisation.reversalReason})`,
        );
      }
      return [
        {
          type: 'LoadAuthorisationCompleted',
          data: {
            ...atStore(authorisation, command.storeId),
            cardCounter: command.cardCounter,
            recovered: command.recovered,
          },
        },
      ];
    }
    case 'release': {
      const authorisation = known(state, command.authorizationId);
      if (authorisation.status !== 'open') return [];
      if (authorisation.holders.length !== 1 || authorisation.holders[0]?.storeId !== command.storeId) {
        throw new DomainRefusal(
          'not_holder',
          `store ${command.storeId} cannot release authorisation ${command.authorizationId}: another store holds it too`,
        );
      }
      if (!authorisation.creditStarted) return reversal(authorisation, state, 'released');
      // The store sent the credit: only the chip can say it did not take it.
      const taken = chipTook(authorisation, command.chip);
      if (taken === 'not_taken') return reversal(authorisation, state, 'released');
      const reason =
        taken === 'taken'
          ? `store ${command.storeId} says the card did not take the credit of authorisation ${authorisation.authorizationId}, but the chip's log shows it at counter ${authorisation.cardCounter + 1}`
          : `store ${command.storeId} asks to release authorisation ${authorisation.authorizationId} after recording that it sent the credit, and the chip's log does not show counter ${authorisation.cardCounter + 1} without it`;
      return [claimRefused(authorisation, command.storeId, 'release_after_credit', reason)];
    }
    case 'hand_over': {
      const authorisation = known(state, command.authorizationId);
      if (authorisation.status !== 'open' || command.nowMs >= authorisation.deadlineMs) {
        throw new DomainRefusal('not_open', `authorisation ${command.authorizationId} can no longer be used`);
      }
      if (authorisation.holders.some((h) => h.storeId === command.storeId && h.terminalId === command.terminalId)) return [];
      return [
        {
          type: 'LoadAuthorisationHandedOver',
          data: {
            ...atStore(authorisation, command.storeId),
            terminalId: command.terminalId,
          },
        },
      ];
    }
    case 'reverse': {
      const authorisation = known(state, command.authorizationId);
      if (authorisation.status !== 'open') return [];
      return reversal(authorisation, state, command.reason);
    }
  }
}

/** The authorisation an event speaks of, and the store it happens at. */
const atStore = (authorisation: Authorisation, storeId: string) => ({
  authorizationId: authorisation.authorizationId,
  cardId: authorisation.cardId,
  storeId,
});

function decideAuthorise(command: Extract<InquiryCommand, { kind: 'authorise' }>, state: InquiryState): NewDomainEvent[] {
  const earlier = state.authorisations.get(command.authorizationId);
  if (earlier) {
    const same =
      earlier.cardId === command.cardId &&
      earlier.bankId === command.bankId &&
      earlier.amount === command.amount &&
      earlier.cardCounter === command.cardCounter;
    if (!same)
      throw new DomainRefusal('authorisation_conflict', `authorisation ${command.authorizationId} was already asked for with other terms`);
    return [];
  }
  refuseForeignCard(state, command.cardId, command.bankId);
  refuseClosedCard(state.closedCards, command.cardId);
  const account = state.accounts.get(command.bankId);
  if (!account) throw new DomainRefusal('unknown_account', `no bank account ${command.bankId}`);
  if (account.balance < command.amount) {
    throw new DomainRefusal(
      'insufficient_funds',
      `bank account ${command.bankId} holds ${account.balance} yen, less than ${command.amount}`,
    );
  }
  const openLoads = openAuthorisationsOf(state, command.cardId).map((a) => ({ id: a.authorizationId, cardCounter: a.cardCounter }));
  refuseBusyCounter(command.cardId, command.cardCounter, [...openLoads, ...(command.openRefunds ?? [])]);
  checkLimits(command, state);
  return [
    {
      type: 'BankAccountDebited',
      data: {
        bankId: command.bankId,
        authorizationId: command.authorizationId,
        amount: command.amount,
        newBalance: account.balance - command.amount,
        cardId: command.cardId,
      },
    },
    {
      type: 'LoadAuthorised',
      data: {
        authorizationId: command.authorizationId,
        cardId: command.cardId,
        bankId: command.bankId,
        amount: command.amount,
        cardCounter: command.cardCounter,
        deadlineMs: command.nowMs + command.validForMs,
        storeId: command.storeId,
        terminalId: command.terminalId,
        authorisedAtMs: command.nowMs,
      },
    },
  ];
}

/** Head office's own load of a replacement card: what is due to it, from the replacement account, outside the daily limit. */
function decideReplacementLoad(command: Extract<InquiryCommand, { kind: 'authorise_replacement' }>, state: InquiryState): NewDomainEvent[] {
  const due = state.replacementDue.get(command.cardId) ?? 0;
  if (due <= 0) throw new DomainRefusal('nothing_due', `no balance of a lost card waits for card ${command.cardId}`);
  for (const other of openAuthorisationsOf(state, command.cardId)) {
    if (other.cardCounter === command.cardCounter)
      throw new DomainRefusal('card_busy', `an earlier load of card ${command.cardId} (${other.authorizationId}) is still being settled`);
  }
  const balance = state.accounts.get(REPLACEMENT_ACCOUNT)?.balance ?? 0;
  return [
    {
      type: 'BankAccountDebited',
      data: {
        bankId: REPLACEMENT_ACCOUNT,
        authorizationId: command.authorizationId,
        amount: due,
        newBalance: balance - due,
        cardId: command.cardId,
      },
    },
    {
      type: 'LoadAuthorised',
      data: {
        authorizationId: command.authorizationId,
        cardId: command.cardId,
        bankId: REPLACEMENT_ACCOUNT,
        amount: due,
        cardCounter: command.cardCounter,
        deadlineMs: command.nowMs + command.validForMs,
        storeId: command.storeId,
        terminalId: command.terminalId,
        authorisedAtMs: command.nowMs,
      },
    },
  ];
}

/**
 * The balance cap is checked against the higher of the chip balance the store read and head
 * office's own view (the last MAC'd balance plus loads authorised at or after its counter, which
 * may have reached the chip since), so a store cannot lift the cap by reporting less.
 */
function checkLimits(command: Extract<InquiryCommand, { kind: 'authorise' }>, state: InquiryState): void {
  const { balanceCap, dailyLoadLimit, businessDay } = command.limits;
  const seen = state.cardBalances.get(command.cardId) ?? { cardCounter: 0, balance: 0 };
  const inFlight = openAuthorisationsOf(state, command.cardId)
    .filter((a) => a.cardCounter >= seen.cardCounter)
    .reduce((sum, a) => sum + a.amount, 0);
  const balance = Math.max(command.cardBalance, seen.balance + inFlight);
  if (balance + command.amount > balanceCap) {
    throw new DomainRefusal(
      'balance_cap',
      `a card may hold at most ${yen(balanceCap)}: with a balance of ${yen(balance)} it can take at most ${yen(Math.max(0, balanceCap - balance))}`,
    );
  }
  const today = businessDayOf(command.nowMs, businessDay);
  const loadedToday = (state.byCard.get(command.cardId) ?? [])
    .map((id) => state.authorisations.get(id)!)
    // A replacement card's transfer is the lost card's money, not a load of the day.
    .filter((a) => a.status !== 'reversed' && a.bankId !== REPLACEMENT_ACCOUNT && businessDayOf(a.authorisedAtMs, businessDay) === today)
    .reduce((sum, a) => sum + a.amount, 0);
  if (loadedToday + command.amount > dailyLoadLimit) {
    throw new DomainRefusal(
      'daily_limit',
      `a card may be loaded with at most ${yen(dailyLoadLimit)} a day: ${yen(loadedToday)} loaded on ${today}, at most ${yen(Math.max(0, dailyLoadLimit - loadedToday))} more`,
    );
  }
}

/** The refusal of anything but a look at a card head office closed. */
/** The card must be one head office issued, for this bank account. Fails closed: a card never issued moves no account's money. */
export function refuseForeignCard(state: InquiryState, cardId: string, bankId: string): void {
  const issuedFor = state.cardAccounts.get(cardId);
  if (issuedFor === undefined) throw new DomainRefusal('unknown_card', `head office never issued card ${cardId}`);
  if (issuedFor !== bankId) throw new DomainRefusal('card_mismatch', `card ${cardId} was issued for another bank account than ${bankId}`);
}

/** Cards head office closed (returned, or captured as lost): no credit or return of them is authorised again. */
export type ClosedCards = Set<string>;

/** Folds a CardClosed into the closed cards: the load, return and refund deciders learn closures alike. */
export function noteClosedCard(closedCards: ClosedCards, event: Extract<DomainEvent, { type: 'CardClosed' }>): void {
  closedCards.add(event.data.cardId);
}

export function refuseClosedCard(closedCards: ClosedCards, cardId: string): void {
  if (closedCards.has(cardId))
    throw new DomainRefusal(
      'card_closed',
      `card ${cardId} is closed (returned, or captured as lost): it takes no more loads, refunds or returns`,
    );
}

/** The chip's balance after a movement it MACed (an unload leaves nothing). */
function chipBalanceAfter(event: Extract<DomainEvent, { type: 'PurseLoaded' | 'PursePaid' | 'PurseRefunded' | 'PurseUnloaded' }>): number {
  return event.type === 'PurseUnloaded' ? 0 : event.data.newBalance;
}

/** An open credit authorisation of a card (a load or a refund) and the chip counter it is bound to. */
export interface CounterClaim {
  id: string;
  cardCounter: number;
}

/** The chip's log does not name authorisations: two credits open at one counter could not be told apart. */
export function refuseBusyCounter(cardId: string, cardCounter: number, open: readonly CounterClaim[]): void {
  const other = open.find((claim) => claim.cardCounter === cardCounter);
  if (other) throw new DomainRefusal('card_busy', `an earlier credit of card ${cardId} (${other.id}) is still being settled`);
}

function known(state: InquiryState, authorizationId: string): Authorisation {
  const authorisation = state.authorisations.get(authorizationId);
  if (!authorisation) throw new DomainRefusal('unknown_authorisation', `no authorisation ${authorizationId}`);
  return authorisation;
}

function reversal(authorisation: Authorisation, state: InquiryState, reason: ReversalReason): NewDomainEvent[] {
  const balance = state.accounts.get(authorisation.bankId)?.balance ?? 0;
  return [
    {
      type: 'LoadAuthorisationReversed',
      data: {
        authorizationId: authorisation.authorizationId,
        cardId: authorisation.cardId,
        bankId: authorisation.bankId,
        amount: authorisation.amount,
        newBalance: balance + authorisation.amount,
        reason,
      },
    },
  ];
}

/**
 * What the chip's verified records say of the authorisation's credit: 'taken' (a credit of its
 * amount at c + 1; head office never has two open at one counter), 'not_taken' (another record at
 * c + 1: the counter went on without it), 'unknown' (no record at c + 1).
 */
function chipTook(authorisation: Authorisation, chip: ChipView | undefined): 'taken' | 'not_taken' | 'unknown' {
  const atCredit = chip?.records.find((record) => record.cardCounter === authorisation.cardCounter + 1);
  if (!atCredit) return 'unknown';
  return atCredit.operation === 'credit' && atCredit.amount === authorisation.amount ? 'taken' : 'not_taken';
}

/** Head office's refusal of a store's claim about a chip: recorded, and raised as an alert naming the store. */
export function claimRefused(
  authorisation: Pick<Authorisation, 'authorizationId' | 'cardId'> | { authorizationId: ''; cardId: string },
  storeId: string,
  claim: 'forged_log' | 'card_moved_on' | 'release_after_credit',
  reason: string,
): NewDomainEvent {
  return {
    type: 'StoreClaimRefused',
    data: { storeId, cardId: authorisation.cardId, authorizationId: authorisation.authorizationId, claim, reason },
  };
}

/** What to do with an open authorisation when its card is inserted and its chip read. */
export type Settlement =
  | { action: 'record'; credit: ChipRecord }
  | { action: 'credit' }
  | { action: 'reverse'; reason: 'card_moved_on' | 'expired_at_card' }
  | { action: 'refuse'; why: string }
  | { action: 'open'; why: string };

/**
 * The chip is the witness, through its verified records: a credit of the amount at counter c + 1
 * is this authorisation; another record at c + 1 proves the counter went on without it. Without a
 * record at c + 1: a chip at c before the deadline can take it now; after the deadline and the
 * margin, a chip at c can no longer take it — believed from any store when no credit was sent, and
 * from a store that does not hold the authorisation when one was (the holder's word is no evidence
 * against its own credit). A store that says the chip moved past c while its log covers c + 1
 * without a record there says what no chip shows: refused.
 */
export function settleAtInsertion(authorisation: Authorisation, chip: ChipView, nowMs: number, marginMs: number): Settlement {
  const creditCounter = authorisation.cardCounter + 1;
  const atCredit = chip.records.find((record) => record.cardCounter === creditCounter);
  if (atCredit) {
    if (atCredit.operation === 'debit') return { action: 'reverse', reason: 'card_moved_on' };
    if (atCredit.amount === authorisation.amount) return { action: 'record', credit: atCredit };
    return { action: 'open', why: `the chip's credit at counter ${creditCounter} is ${atCredit.amount} yen, not ${authorisation.amount}` };
  }
  if (chip.cardCounter === authorisation.cardCounter) {
    if (nowMs < authorisation.deadlineMs) return { action: 'credit' };
    if (nowMs <= authorisation.deadlineMs + marginMs)
      return { action: 'open', why: 'the deadline has just passed; waiting for the margin' };
    const holder = authorisation.holders.some((h) => h.storeId === chip.storeId);
    if (!authorisation.creditStarted || !holder) return { action: 'reverse', reason: 'expired_at_card' };
    return {
      action: 'open',
      why: `store ${chip.storeId} sent the credit: its reading of the chip at counter ${authorisation.cardCounter} is no evidence; waiting for the chip's record at counter ${creditCounter} or another store's reading`,
    };
  }
  if (chip.cardCounter > authorisation.cardCounter) {
    if (chip.logCoversFromCounter <= creditCounter) {
      return {
        action: 'refuse',
        why: `store ${chip.storeId} says the card moved past counter ${authorisation.cardCounter}, but sends no record of the chip at counter ${creditCounter} that its log covers`,
      };
    }
    return { action: 'open', why: `the chip's log no longer reaches counter ${creditCounter}` };
  }
  return { action: 'open', why: `the chip's counter ${chip.cardCounter} is below the authorisation's ${authorisation.cardCounter}` };
}

/**
 * A timeout alone reverses only when no store sent the credit: the deadline and the margin have
 * passed, no PurseCreditStarted was seen, and every holder's replicated log reaches past them (so
 * a PurseCreditStarted, recorded before any later event, would have been seen).
 */
export function timeoutReversible(
  authorisation: Authorisation,
  nowMs: number,
  marginMs: number,
  storeLogReachedMs: (storeId: string) => number | undefined,
): boolean {
  if (authorisation.status !== 'open' || authorisation.creditStarted) return false;
  const limit = authorisation.deadlineMs + marginMs;
  if (nowMs <= limit) return false;
  return authorisation.holders.every((holder) => (storeLogReachedMs(holder.storeId) ?? 0) > limit);
}

export const inquiryDecider: Decider<InquiryCommand, InquiryState> = {
  initialState: initialInquiryState,
  evolve: evolveInquiry,
  decide: decideInquiry,
};
