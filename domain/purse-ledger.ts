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

/**
 * The movement a PurseLoaded, PursePaid or PurseRefunded makes: the one mapping the live ledger and the
 * auditor's replay share. `at` says when it happened, at which store it counts, and whether its
 * card MAC verified.
 */
export function purseMovementOf(event: PurseMovementEvent, at: { atMs: number; storeId: string; macValid: boolean }): PurseMovement {
  const { cardId, amount, cardCounter } = event.data;
  const common = { cardId, amount, counter: cardCounter, ...at };
  switch (event.type) {
    case 'PurseLoaded':
      return { kind: 'load', ...common, newBalance: event.data.newBalance, authorizationId: event.data.authorizationId };
    case 'PursePaid':
      return { kind: 'pay', ...common, newBalance: event.data.newBalance };
    case 'PurseRefunded':
      return { kind: 'refund', ...common, newBalance: event.data.newBalance };
    case 'PurseUnloaded':
      return { kind: 'unload', ...common, newBalance: 0 };
  }
}

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
 * Checks one movement against the card's shadow and returns the next shadow. A movement whose MAC
 * fails, or whose counter was seen already, leaves the shadow untouched; one that the chip MACed is
 * the chip's word and moves the shadow even when it does not follow (a gap or a balance that does
 * not add up), with a divergence saying so. A movement at a counter a gap skipped arrives late (a
 * store that was offline): it is counted, without a divergence. A load recorded twice (at once and
 * again when found on the chip at a later insertion) is the same movement, not a divergence.
 */
export function applyMovement(before: CardLedger, movement: PurseMovement, debit: DebitFacts | undefined): LedgerStep {
  const divergences: Divergence[] = [];
  const label = `${movement.kind} of ${movement.amount} yen at counter ${movement.counter} (store ${movement.storeId})`;
  if (!movement.macValid) {
    return { card: before, divergences: [{ kind: 'mac_invalid', message: `card MAC fails for ${label}` }], applied: false, late: false };
  }
  if (
    movement.kind === 'load' &&
    movement.authorizationId !== undefined &&
    before.loadedAuthorisations.get(movement.authorizationId) === movement.counter
  ) {
    return { card: before, divergences: [], applied: false, late: false };
  }
  if (movement.counter <= before.counter) {
    if (before.missingCounters.has(movement.counter)) return lateArrival(before, movement, debit, label);
    return {
      card: before,
      divergences: [
        { kind: 'counter_repeat', message: `${label} repeats a counter already seen (last ${before.counter}): replayed or cloned` },
      ],
      applied: false,
      late: false,
    };
  }
  let missingCounters = before.missingCounters;
  if (movement.counter > before.counter + 1) {
    divergences.push({
      kind: 'counter_gap',
      message: `${label} skips counters ${before.counter + 1}..${movement.counter - 1}: movements missing or not yet received`,
    });
    const holes = new Set(before.missingCounters);
    for (let counter = before.counter + 1; counter < movement.counter && holes.size < MAX_MISSING; counter++) holes.add(counter);
    missingCounters = holes;
  } else {
    const credit = chipOperationOf(movement.kind) === 'credit';
    const expected = credit ? before.balance + movement.amount : before.balance - movement.amount;
    if (movement.newBalance !== expected) {
      divergences.push({
        kind: 'balance_mismatch',
        message: `${label} leaves ${movement.newBalance} yen; ${before.balance} ${credit ? '+' : '-'} ${movement.amount} = ${expected}`,
      });
    }
  }
  if (movement.kind === 'load') divergences.push(...checkDebit(movement, debit, label));

  const card: CardLedger = {
    ...before,
    balance: movement.newBalance,
    counter: movement.counter,
    lastUseMs: movement.atMs,
    lastStoreId: movement.storeId,
    missingCounters,
  };
  return { card: counted(card, movement), divergences, applied: true, late: false };
}

/** A movement that a gap had skipped, arriving now: counted; balance and counter stay the later ones. */
function lateArrival(before: CardLedger, movement: PurseMovement, debit: DebitFacts | undefined, label: string): LedgerStep {
  const missingCounters = new Set(before.missingCounters);
  missingCounters.delete(movement.counter);
  const divergences = movement.kind === 'load' ? checkDebit(movement, debit, label) : [];
  return { card: counted({ ...before, missingCounters }, movement), divergences, applied: true, late: true };
}

/** The card with the movement added to its counts and totals. */
function counted(card: CardLedger, movement: PurseMovement): CardLedger {
  if (movement.kind === 'unload') return card;
  if (movement.kind === 'pay') return { ...card, pays: card.pays + 1, paidTotal: card.paidTotal + movement.amount };
  if (movement.kind === 'refund') return { ...card, refunds: card.refunds + 1, refundedTotal: card.refundedTotal + movement.amount };
  const loadedAuthorisations =
    movement.authorizationId === undefined
      ? card.loadedAuthorisations
      : new Map(card.loadedAuthorisations).set(movement.authorizationId, movement.counter);
  return { ...card, loads: card.loads + 1, loadedTotal: card.loadedTotal + movement.amount, loadedAuthorisations };
}

function checkDebit(movement: PurseMovement, debit: DebitFacts | undefined, label: string): Divergence[] {
  if (!debit)
    return [
      { kind: 'load_without_debit', message: `${label}: no account debit for authorisation ${movement.authorizationId ?? '(none)'}` },
    ];
  const out: Divergence[] = [];
  if (debit.cardId !== movement.cardId || debit.amount !== movement.amount) {
    out.push({
      kind: 'load_debit_mismatch',
      message: `${label}: authorisation ${movement.authorizationId} debited ${debit.amount} yen for card ${debit.cardId}`,
    });
  }
  if (debit.reversed)
    out.push({
      kind: 'load_after_reversal',
      message: `${label}: authorisation ${movement.authorizationId} was already reversed to the account`,
    });
  return out;
}
