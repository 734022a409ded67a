// Checks the purse from the events alone, with head office's own ledger rules (domain
// applyMovement): every card MAC (with the issuer master keys), every card counter, the balance
// arithmetic per card, and that every load is matched by exactly one bank-account debit that was
// not given back. A card's movements reach head office from several stores in any order: each is
// applied in card-counter order, a movement ahead of its predecessor waiting for it. Loads are
// matched to debits once everything is read, so a debit or a reversal stored later still counts.
import type { IssuerMasterKeys } from '../card/index.js';
import { decodeEvent, type EventType } from '../contracts/index.js';
import {
  applyMovement,
  chipOperationOf,
  newCardLedger,
  type CardLedger,
  type DebitFacts,
  type DivergenceKind,
  type PurseMovement,
  purseMovementOf,
} from '../domain/index.js';
import { CardMacs } from './card-macs.js';
import type { ChainedEvent } from './chain-check.js';
import { CHECKS, type Check, type Report } from './findings.js';
import { terminalIdBytes } from '../card/index.js';

/** Event types this check reads; every other payload stays undecoded. */
export const PURSE_EVENT_TYPES: ReadonlySet<string> = new Set<EventType | string>([
  'PurseLoaded',
  'PursePaid',
  'PurseRefunded',
  'PurseUnloaded',
  'BankAccountDebited',
  'LoadAuthorisationReversed',
]);

/** Where an event sits, kept small: findings are formatted only when something fails. */
interface Where {
  origin: string;
  seq: number;
  eventId: string;
  position: bigint;
}

interface RecordedMovement {
  movement: PurseMovement;
  where: Where;
}

/** A load as applied, kept to match it with its debit at the end. */
interface AppliedLoad extends RecordedMovement {
  before: CardLedger;
}

interface Debit {
  amount: number;
  cardId: string;
  where: Where;
}

interface CardState {
  ledger: CardLedger | undefined;
  /** Movements stored ahead of a counter not seen yet. */
  waiting: Map<number, RecordedMovement> | undefined;
}

const CHECK_OF: Record<DivergenceKind, Check> = {
  mac_invalid: CHECKS.cardMac,
  counter_repeat: CHECKS.cardCounter,
  counter_gap: CHECKS.cardCounter,
  balance_mismatch: CHECKS.purseBalance,
  load_without_debit: CHECKS.loadDebit,
  load_debit_mismatch: CHECKS.loadDebit,
  load_after_reversal: CHECKS.loadDebit,
};
const LOAD_KINDS: ReadonlySet<DivergenceKind> = new Set(['load_without_debit', 'load_debit_mismatch', 'load_after_reversal']);

/** How many movements of one card may wait for a missing counter before it is passed over as a gap. */
const MAX_WAITING_PER_CARD = 1_000;

export interface PurseSummary {
  cards: number;
  loads: number;
  pays: number;
  debits: number;
  /** Authorisations debited from an account whose load is not (yet) recorded and that were not given back. */
  openDebits: number;
}

export class PurseAuditor {
  private readonly cards = new Map<string, CardState>();
  private readonly debits = new Map<string, Debit[]>();
  private readonly reversed = new Set<string>();
  private readonly appliedLoads: AppliedLoad[] = [];
  private readonly cardMacs: CardMacs | undefined;
  private readonly terminals = new Map<string, Uint8Array>();
  private loads = 0;
  private pays = 0;

  /**
   * `issuerKeys` undefined: card MACs cannot be checked (the replay notes it once).
   * `fromGenesis`: every card starts as issued (counter 0, balance 0); otherwise each card is
   * anchored at its first movement read.
   */
  constructor(
    private readonly report: Report,
    issuerKeys: IssuerMasterKeys | undefined,
    private readonly fromGenesis: boolean,
  ) {
    this.cardMacs = issuerKeys && new CardMacs(issuerKeys.transaction);
  }

  private fail(check: Check, where: Where, message: string): void {
    this.report({ check, store: where.origin, seq: where.seq, eventId: where.eventId, position: String(where.position), message });
  }

  /** Every event of every chain, in sequence order; only purse events are decoded. */
  onEvent(event: ChainedEvent): void {
    const envelope = event.envelope;
    if (envelope === undefined || !PURSE_EVENT_TYPES.has(envelope.eventType)) return;
    let decoded;
    try {
      decoded = decodeEvent(envelope.eventType, envelope.payload);
    } catch (error) {
      this.fail(CHECKS.decode, event, `${envelope.eventType} payload: ${(error as Error).message}`);
      return;
    }
    const atMs = envelope.occurredAtMs;
    switch (decoded.type) {
      case 'PurseLoaded':
      case 'PursePaid':
      case 'PurseRefunded':
      case 'PurseUnloaded': {
        const { cardMac, terminalId, storeId } = decoded.data;
        if (decoded.type === 'PurseLoaded') this.loads += 1;
        else if (decoded.type === 'PursePaid') this.pays += 1;
        // `movement` puts the verdict on the card MAC in.
        const movement = purseMovementOf(decoded, { atMs, storeId: storeId || event.origin, macValid: true });
        this.movement({ movement, where: event }, cardMac, terminalId);
        return;
      }
      case 'BankAccountDebited': {
        const debit = {
          amount: decoded.data.amount,
          cardId: decoded.data.cardId,
          where: { origin: event.origin, seq: event.seq, eventId: event.eventId, position: event.position },
        };
        const list = this.debits.get(decoded.data.authorizationId);
        if (list) list.push(debit);
        else this.debits.set(decoded.data.authorizationId, [debit]);
        return;
      }
      case 'LoadAuthorisationReversed':
        this.reversed.add(decoded.data.authorizationId);
        return;
      default:
        return;
    }
  }

  /** The bytes a card MACs for a terminal, worked out once per terminal. */
  private terminalBytes(terminalId: string): Uint8Array {
    let bytes = this.terminals.get(terminalId);
    if (bytes === undefined) {
      bytes = terminalIdBytes(terminalId);
      this.terminals.set(terminalId, bytes);
    }
    return bytes;
  }

  private macValid({ movement, where }: RecordedMovement, mac: Uint8Array, terminalId: string): boolean {
    if (this.cardMacs === undefined) return true;
    try {
      return this.cardMacs.check(movement.cardId, {
        operation: chipOperationOf(movement.kind),
        counter: movement.counter,
        amount: movement.amount,
        newBalance: movement.newBalance,
        terminalId: this.terminalBytes(terminalId),
        mac,
      });
    } catch (error) {
      this.fail(CHECKS.cardMac, where, `card ${movement.cardId}: the MAC cannot be checked: ${(error as Error).message}`);
      return true;
    }
  }

  private movement(recorded: RecordedMovement, mac: Uint8Array, terminalId: string): void {
    const { movement } = recorded;
    movement.macValid = this.macValid(recorded, mac, terminalId);
    let card = this.cards.get(movement.cardId);
    if (card === undefined) {
      card = { ledger: this.fromGenesis ? newCardLedger(movement.cardId) : undefined, waiting: undefined };
      this.cards.set(movement.cardId, card);
    }
    card.ledger ??= anchoredLedger(movement.cardId, movement);
    if (movement.counter > card.ledger.counter + 1) {
      card.waiting ??= new Map();
      card.waiting.set(movement.counter, recorded);
      if (card.waiting.size > MAX_WAITING_PER_CARD) this.passOverGap(card);
      return;
    }
    this.apply(card, recorded);
    this.drain(card);
  }

  /** Applies the waiting movements that now follow the card's counter. */
  private drain(card: CardState): void {
    while (card.waiting !== undefined) {
      const next = card.waiting.get(card.ledger!.counter + 1);
      if (next === undefined) return;
      card.waiting.delete(next.movement.counter);
      if (card.waiting.size === 0) card.waiting = undefined;
      this.apply(card, next);
    }
  }

  /** The lowest waiting movement cannot be reached: apply it (the ledger rules name the gap). */
  private passOverGap(card: CardState): void {
    const lowest = Math.min(...card.waiting!.keys());
    const next = card.waiting!.get(lowest)!;
    card.waiting!.delete(lowest);
    if (card.waiting!.size === 0) card.waiting = undefined;
    this.apply(card, next);
    this.drain(card);
  }

  private apply(card: CardState, recorded: RecordedMovement): void {
    const { movement, where } = recorded;
    const before = card.ledger!;
    // Debits are matched at the end; here the load is taken as matched so only the card's own rules speak.
    const matched: DebitFacts | undefined =
      movement.kind === 'load' ? { cardId: movement.cardId, amount: movement.amount, reversed: false } : undefined;
    // The live ledger refuses a movement whose MAC fails; the auditor names the failure and then
    // judges the movement as recorded, so that its arithmetic is checked and the movements after it
    // are measured against the history as stored, not flagged as a gap.
    if (!movement.macValid)
      this.fail(
        CHECKS.cardMac,
        where,
        `card ${movement.cardId}: the card MAC on this ${movement.kind} (counter ${movement.counter}, ${movement.amount} yen, new balance ${movement.newBalance}) is not the card's: amount, balance, counter or terminal differ from what the card signed`,
      );
    const step = applyMovement(before, movement.macValid ? movement : { ...movement, macValid: true }, matched);
    for (const divergence of step.divergences) {
      const beyondBalance = movement.kind === 'pay' && divergence.kind === 'balance_mismatch' && movement.amount > before.balance;
      const prefix = beyondBalance ? `pay of ${movement.amount} yen is beyond the balance of ${before.balance} yen; ` : '';
      this.fail(CHECK_OF[divergence.kind], where, `card ${movement.cardId}: ${prefix}${divergence.message}`);
    }
    if (step.applied && movement.kind === 'load')
      this.appliedLoads.push({
        movement,
        where: { origin: where.origin, seq: where.seq, eventId: where.eventId, position: where.position },
        before,
      });
    card.ledger = step.card;
  }

  /**
   * `debitsComplete`: every account debit that could match a load was read (head office's chain
   * from its start); otherwise a load whose debit is not found is not reported.
   */
  finish(debitsComplete: boolean): PurseSummary {
    for (const card of this.cards.values()) while (card.waiting !== undefined) this.passOverGap(card);
    const loadedAt = new Map<string, Where>();
    for (const { movement, where, before } of this.appliedLoads) {
      const authorizationId = movement.authorizationId ?? '';
      const first = loadedAt.get(authorizationId);
      if (first !== undefined) {
        this.fail(
          CHECKS.loadDebit,
          where,
          `card ${movement.cardId}: authorisation ${authorizationId} was already loaded by event ${first.eventId} (${first.origin} seq ${first.seq}); one debit cannot pay for two loads`,
        );
        continue;
      }
      loadedAt.set(authorizationId, where);
      const debits = this.debits.get(authorizationId);
      const facts = debits?.[0] && { cardId: debits[0].cardId, amount: debits[0].amount, reversed: this.reversed.has(authorizationId) };
      if (facts === undefined && !debitsComplete) continue;
      for (const divergence of applyMovement(before, movement, facts).divergences) {
        if (LOAD_KINDS.has(divergence.kind)) this.fail(CHECK_OF[divergence.kind], where, `card ${movement.cardId}: ${divergence.message}`);
      }
    }
    let openDebits = 0;
    let debitCount = 0;
    for (const [authorizationId, debits] of this.debits) {
      debitCount += debits.length;
      for (const extra of debits.slice(1)) {
        this.fail(
          CHECKS.loadDebit,
          extra.where,
          `authorisation ${authorizationId} is debited again (first by event ${debits[0]!.where.eventId}): one load, one debit`,
        );
      }
      if (!loadedAt.has(authorizationId) && !this.reversed.has(authorizationId)) openDebits += 1;
    }
    return { cards: this.cards.size, loads: this.loads, pays: this.pays, debits: debitCount, openDebits };
  }
}

/** A card whose history starts before the replay: its ledger just before the first movement read. */
function anchoredLedger(cardId: string, first: PurseMovement): CardLedger {
  const balance = chipOperationOf(first.kind) === 'credit' ? first.newBalance - first.amount : first.newBalance + first.amount;
  return { ...newCardLedger(cardId), balance, counter: first.counter - 1 };
}
