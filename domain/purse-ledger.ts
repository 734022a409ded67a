// Head office's shadow of every purse, and the checks that tell a genuine history from a cloned,
// replayed, forged or lost one. Pure, so the live ledger and the auditor's replay apply exactly the
// same rules.
import type { DomainEvent } from '../contracts/index.js';
import type { PurseOperation } from '../card/index.js';

/** Head office's view of one card's purse. */
export interface CardLedger {
  cardId: string;
  /** The balance the chip reported with its last accepted movement. */
  balance: number;
  /** The chip's counter at that movement. */
  counter: number;
  loads: number;
  loadedTotal: number;
  pays: number;
  paidTotal: number;
  refunds: number;
  refundedTotal: number;
  lastUseMs: number | undefined;
  lastStoreId: string | undefined;
  /** Authorisations already loaded onto the card, with the counter each got. */
  loadedAuthorisations: Map<string, number>;
  /** Counters a gap skipped that have not arrived since (a store may send them late). */
  missingCounters: ReadonlySet<number>;
}

/** A load, pay, refund or unload (a returned card's, leaving nothing) as a store recorded it, with the verdict on its card MAC. */
export interface PurseMovement {
  kind: 'load' | 'pay' | 'refund' | 'unload';
  cardId: string;
  amount: number;
  newBalance: number;
  /** The chip's counter after the movement. */
  counter: number;
  /** The card's MAC over the movement verified with the card's transaction key. */
  macValid: boolean;
  atMs: number;
  storeId: string;
  /** Loads only. */
  authorizationId?: string;
}

/** A store's load, pay, refund or unload, the event the ledger applies as a movement. */
export type PurseMovementEvent = Extract<DomainEvent, { type: 'PurseLoaded' | 'PursePaid' | 'PurseRefunded' | 'PurseUnloaded' }>;

/** The chip operation whose card MAC proves a movement: a debit for a pay, a credit for a load or a refund, an unload for a return. */
export const chipOperationOf = (kind: PurseMovement['kind']): PurseOperation =>
  kind === 'pay' ? 'debit' : kind === 'unload' ? 'unload' : 'credit';

/** The fields of a PurseLoaded, PursePaid or PurseRefunded that make its movement (what the auditor's own reader gives). */
export interface PurseMovementFields {
  cardId: string;
  amount: number;
  /** Not in an unload, which leaves nothing. */
  newBalance?: number;
  cardCounter: number;
  authorizationId?: string;
}

/**
 * The movement a PurseLoaded, PursePaid, PurseRefunded or PurseUnloaded makes: the one mapping the live ledger and the
 * auditor's replay share. `at` says when it happened, at which store it counts, and whether its
 * card MAC verified.
 */
export function purseMovementOf(
  event: { type: PurseMovementEvent['type']; data: PurseMovementFields },
  at: { atMs: number; storeId: string; macValid: boolean },
): PurseMovement {
  const { cardId, amount, newBalance, cardCounter } = event.data;
  // One object per movement, no intermediate copies: the auditor's replay makes millions.
  const movement: PurseMovement = {
    kind: MOVEMENT_KINDS[event.type],
    cardId,
    amount,
    newBalance: newBalance ?? 0,
    counter: cardCounter,
    macValid: at.macValid,
    atMs: at.atMs,
    storeId: at.storeId,
  };
  if (event.type === 'PurseLoaded') movement.authorizationId = event.data.authorizationId;
  return movement;
}

const MOVEMENT_KINDS: Record<PurseMovementEvent['type'], PurseMovement['kind']> = {
  PurseLoaded: 'load',
  PursePaid: 'pay',
  PurseRefunded: 'refund',
  PurseUnloaded: 'unload',
};

/** What head office knows of the account debit behind a load. */
export interface DebitFacts {
  cardId: string;
  amount: number;
  reversed: boolean;
}

export type DivergenceKind =
  | 'mac_invalid'
  | 'counter_repeat'
  | 'counter_gap'
  | 'balance_mismatch'
  | 'load_without_debit'
  | 'load_debit_mismatch'
  | 'load_after_reversal';

export interface Divergence {
  kind: DivergenceKind;
  message: string;
}

export interface LedgerStep {
  card: CardLedger;
  divergences: Divergence[];
  /** False when the movement did not change the shadow (refused as forged or replayed, or a repeat). */
  applied: boolean;
  /** The movement filled a counter a gap had skipped: counted, but the balance stays the later one. */
  late: boolean;
}

/** Holes remembered per card at most; a longer gap is flagged all the same. */
const MAX_MISSING = 1_000;

/** A card head office has just issued: empty purse, counter 0. */
export function newCardLedger(cardId: string): CardLedger {
  return {
    cardId,
    balance: 0,
    counter: 0,
    loads: 0,
    loadedTotal: 0,
    pays: 0,
    paidTotal: 0,
    refunds: 0,
    refundedTotal: 0,
    lastUseMs: undefined,
    lastStoreId: undefined,
    loadedAuthorisations: new Map(),
    missingCounters: new Set(),
  };
}

/**
 * A card whose history starts before the ledger's (issued before it existed, or before a replay's
 * start): its ledger just before its first movement seen, which anchors it.
 */
export function anchoredLedger(first: PurseMovement): CardLedger {
  const balance = chipOperationOf(first.kind) === 'credit' ? first.newBalance - first.amount : first.newBalance + first.amount;
  return { ...newCardLedger(first.cardId), balance, counter: first.counter - 1 };
}

/**
 * Checks one movement against the card's shadow and returns the next shadow. A movement whose MAC
 * fails, or whose counter was seen already, leaves the shadow untouched; one that the chip MACed is
 * the chip's word and moves the shadow even when it does not follow (a gap or a balance that does
 * not add up), with a divergence saying so. A movement at a counter a gap skipped arrives late (a
 * store that was offline): it is counted, without a divergence. A load recorded twice (at once and
 * again when found on the chip at a later insertion) is the same movement, not a divergence.
 */
export function applyMovement(before: CardLedger, movement: PurseMovement, debit: DebitFacts | undefined): LedgerStep {
  const card = { ...before };
  const step = judgeAndApply(card, movement, debit, true);
  return { ...step, card: step.applied ? card : before };
}

/**
 * The same rules as applyMovement, writing the next shadow into `card` itself: for a replay that
 * holds each card's ledger alone and applies millions of movements, where a copy per movement is
 * most of the cost. `card` is left as it was when the movement is not applied.
 */
export function applyMovementInPlace(card: CardLedger, movement: PurseMovement, debit: DebitFacts | undefined): Omit<LedgerStep, 'card'> {
  return judgeAndApply(card, movement, debit, false);
}

/** `copyCollections`: `card` is a shallow copy whose sets and maps are shared, so they are copied before a change. */
function judgeAndApply(card: CardLedger, movement: PurseMovement, debit: DebitFacts | undefined, copyCollections: boolean) {
  if (!movement.macValid) {
    return {
      divergences: [{ kind: 'mac_invalid' as const, message: `card MAC fails for ${labelOf(movement)}` }],
      applied: false,
      late: false,
    };
  }
  if (
    movement.kind === 'load' &&
    movement.authorizationId !== undefined &&
    card.loadedAuthorisations.get(movement.authorizationId) === movement.counter
  ) {
    return { divergences: [], applied: false, late: false };
  }
  const divergences: Divergence[] = [];
  if (movement.counter <= card.counter) {
    if (!card.missingCounters.has(movement.counter)) {
      divergences.push({
        kind: 'counter_repeat',
        message: `${labelOf(movement)} repeats a counter already seen (last ${card.counter}): replayed or cloned`,
      });
      return { divergences, applied: false, late: false };
    }
    // A movement that a gap had skipped, arriving now: counted; balance and counter stay the later ones.
    const missing = copyCollections ? new Set(card.missingCounters) : (card.missingCounters as Set<number>);
    missing.delete(movement.counter);
    card.missingCounters = missing;
    if (movement.kind === 'load') divergences.push(...loadDebitDivergences(movement, debit));
    count(card, movement, copyCollections);
    return { divergences, applied: true, late: true };
  }
  if (movement.counter > card.counter + 1) {
    divergences.push({
      kind: 'counter_gap',
      message: `${labelOf(movement)} skips counters ${card.counter + 1}..${movement.counter - 1}: movements missing or not yet received`,
    });
    const holes = copyCollections ? new Set(card.missingCounters) : (card.missingCounters as Set<number>);
    for (let counter = card.counter + 1; counter < movement.counter && holes.size < MAX_MISSING; counter++) holes.add(counter);
    card.missingCounters = holes;
  } else {
    const credit = chipOperationOf(movement.kind) === 'credit';
    const expected = credit ? card.balance + movement.amount : card.balance - movement.amount;
    if (movement.newBalance !== expected) {
      divergences.push({
        kind: 'balance_mismatch',
        message: `${labelOf(movement)} leaves ${movement.newBalance} yen; ${card.balance} ${credit ? '+' : '-'} ${movement.amount} = ${expected}`,
      });
    }
  }
  if (movement.kind === 'load') divergences.push(...loadDebitDivergences(movement, debit));
  card.balance = movement.newBalance;
  card.counter = movement.counter;
  card.lastUseMs = movement.atMs;
  card.lastStoreId = movement.storeId;
  count(card, movement, copyCollections);
  return { divergences, applied: true, late: false };
}

/** Adds the movement to the card's counts and totals; an unload (the card's return) is in none of them, only in its balance. */
function count(card: CardLedger, movement: PurseMovement, copyCollections: boolean): void {
  if (movement.kind === 'unload') return;
  if (movement.kind === 'pay') {
    card.pays += 1;
    card.paidTotal += movement.amount;
    return;
  }
  if (movement.kind === 'refund') {
    card.refunds += 1;
    card.refundedTotal += movement.amount;
    return;
  }
  card.loads += 1;
  card.loadedTotal += movement.amount;
  if (movement.authorizationId !== undefined)
    card.loadedAuthorisations = (copyCollections ? new Map(card.loadedAuthorisations) : card.loadedAuthorisations).set(
      movement.authorizationId,
      movement.counter,
    );
}

/** The movement in words, made only for a divergence's message. */
const labelOf = (movement: PurseMovement) =>
  `${movement.kind} of ${movement.amount} yen at counter ${movement.counter} (store ${movement.storeId})`;

/** What is wrong with the account debit behind a load (none: nothing). */
export function loadDebitDivergences(movement: PurseMovement, debit: DebitFacts | undefined): Divergence[] {
  if (!debit)
    return [
      {
        kind: 'load_without_debit',
        message: `${labelOf(movement)}: no account debit for authorisation ${movement.authorizationId ?? '(none)'}`,
      },
    ];
  const out: Divergence[] = [];
  if (debit.cardId !== movement.cardId || debit.amount !== movement.amount) {
    out.push({
      kind: 'load_debit_mismatch',
      message: `${labelOf(movement)}: authorisation ${movement.authorizationId} debited ${debit.amount} yen for card ${debit.cardId}`,
    });
  }
  if (debit.reversed)
    out.push({
      kind: 'load_after_reversal',
      message: `${labelOf(movement)}: authorisation ${movement.authorizationId} was already reversed to the account`,
    });
  return out;
}
