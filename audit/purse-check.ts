// Checks the purse from the events alone, with head office's own ledger rules (domain
// applyMovement): every card MAC (with the issuer master keys), every card counter, the balance
// arithmetic per card, and that every load is matched by exactly one bank-account debit that was
// not given back. A card's movements reach head office from several stores in any order: each is
// applied in card-counter order, a movement ahead of its predecessor waiting for it. Loads are
// matched to debits once everything is read, so a debit or a reversal stored later still counts.
import type { IssuerMasterKeys } from '../card/index.js';
import { decodeEvent, type EventType } from '../contracts/index.js';
import {
  anchoredLedger,
  applyMovementInPlace,
  chipOperationOf,
  loadDebitDivergences,
  newCardLedger,
  type CardLedger,
  type DebitFacts,
  type DivergenceKind,
  type PurseMovement,
  purseMovementOf,
} from '../domain/index.js';
import { CardMacs, type CardKey, type CardTransaction } from './card-macs.js';
import { readMovementFields, type MovementFields } from './movement-fields.js';
import type { ChainedEvent } from './chain-check.js';
import { CHECKS, type Check, type Report } from './findings.js';
import { terminalIdBytes } from '../card/index.js';

/** Event types this check reads; every other payload stays undecoded. */
const PURSE_EVENT_TYPES: ReadonlySet<string> = new Set<EventType | string>([
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

interface Debit {
  amount: number;
  cardId: string;
  where: Where;
}

interface CardState {
  ledger: CardLedger | undefined;
  /** Movements stored ahead of a counter not seen yet. */
  waiting: Map<number, RecordedMovement> | undefined;
  /** The card's MAC key, kept here: one lookup of the card per movement. */
  macKey: CardKey | undefined;
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
  /** Loads as applied, kept to match each with its debit at the end. */
  private readonly appliedLoads: RecordedMovement[] = [];
  private readonly cardMacs: CardMacs | undefined;
  private readonly terminals = new Map<string, Uint8Array>();
  private lastTerminal: { id: string | undefined; bytes: Uint8Array } = { id: undefined, bytes: new Uint8Array(0) };
  /** Filled anew for each movement read in place, and for each MAC checked: no objects per movement. */
  private readonly fields: MovementFields = {
    cardId: '',
    amount: 0,
    newBalance: 0,
    cardCounter: 0,
    authorizationId: '',
    storeId: '',
    terminalId: '',
    macAt: 0,
    macLength: 0,
  };
  /** The strings a movement most likely holds: its stream's store, the last terminal. */
  private readonly likely = { storeId: '', terminalId: '' };
  private readonly transaction: CardTransaction & { mac: Uint8Array } = {
    operation: 'debit',
    counter: 0,
    amount: 0,
    newBalance: 0,
    terminalId: new Uint8Array(0),
    mac: new Uint8Array(0),
  };
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
    if (envelope === undefined) return;
    const type = envelope.eventType;
    if ((type === 'PurseLoaded' || type === 'PursePaid') && this.readMovement(event, type)) return;
    if (!PURSE_EVENT_TYPES.has(type)) return;
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
        this.movement({ movement, where: event }, cardMac, 0, cardMac.length, terminalId);
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

  /** A load or pay read in place (the common case); false when its payload needs the generic decoder. */
  private readMovement(event: ChainedEvent, type: 'PurseLoaded' | 'PursePaid'): boolean {
    const envelope = event.envelope!;
    const fields = this.fields;
    const likely = this.likely;
    likely.storeId = event.origin;
    likely.terminalId = this.lastTerminal.id ?? '';
    if (!readMovementFields(envelope.payload, type === 'PurseLoaded', fields, likely)) return false;
    if (type === 'PurseLoaded') this.loads += 1;
    else this.pays += 1;
    const movement = purseMovementOf(
      { type, data: fields },
      { atMs: envelope.occurredAtMs, storeId: fields.storeId || event.origin, macValid: true },
    );
    this.movement({ movement, where: event }, envelope.payload, fields.macAt, fields.macLength, fields.terminalId);
    return true;
  }

  /** The bytes a card MACs for a terminal, worked out once per terminal. */
  private terminalBytes(terminalId: string): Uint8Array {
    // A till's movements come in runs: the last terminal is asked first.
    if (terminalId === this.lastTerminal.id) return this.lastTerminal.bytes;
    let bytes = this.terminals.get(terminalId);
    if (bytes === undefined) {
      bytes = terminalIdBytes(terminalId);
      this.terminals.set(terminalId, bytes);
    }
    this.lastTerminal = { id: terminalId, bytes };
    return bytes;
  }

  /** `mac` holds the card MAC at `macAt` (`macLength` bytes). */
  private macValid(
    card: CardState,
    { movement, where }: RecordedMovement,
    mac: Uint8Array,
    macAt: number,
    macLength: number,
    terminalId: string,
  ): boolean {
    if (this.cardMacs === undefined) return true;
    try {
      card.macKey ??= this.cardMacs.key(movement.cardId);
      const transaction = this.transaction;
      transaction.operation = chipOperationOf(movement.kind);
      transaction.counter = movement.counter;
      transaction.amount = movement.amount;
      transaction.newBalance = movement.newBalance;
      transaction.terminalId = this.terminalBytes(terminalId);
      transaction.mac = mac;
      return this.cardMacs.check(card.macKey, transaction, macAt, macLength);
    } catch (error) {
      this.fail(CHECKS.cardMac, where, `card ${movement.cardId}: the MAC cannot be checked: ${(error as Error).message}`);
      return true;
    }
  }

  private movement(recorded: RecordedMovement, mac: Uint8Array, macAt: number, macLength: number, terminalId: string): void {
    const { movement } = recorded;
    let card = this.cards.get(movement.cardId);
    if (card === undefined) {
      card = { ledger: this.fromGenesis ? newCardLedger(movement.cardId) : undefined, waiting: undefined, macKey: undefined };
      this.cards.set(movement.cardId, card);
    }
    movement.macValid = this.macValid(card, recorded, mac, macAt, macLength, terminalId);
    card.ledger ??= anchoredLedger(movement);
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
    const ledger = card.ledger!;
    const balanceBefore = ledger.balance;
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
    // The auditor holds each card's ledger alone: updated in place, not copied per movement.
    const step = applyMovementInPlace(ledger, movement.macValid ? movement : { ...movement, macValid: true }, matched);
    for (const divergence of step.divergences) {
      const beyondBalance = movement.kind === 'pay' && divergence.kind === 'balance_mismatch' && movement.amount > balanceBefore;
      const prefix = beyondBalance ? `pay of ${movement.amount} yen is beyond the balance of ${balanceBefore} yen; ` : '';
      this.fail(CHECK_OF[divergence.kind], where, `card ${movement.cardId}: ${prefix}${divergence.message}`);
    }
    if (step.applied && movement.kind === 'load')
      this.appliedLoads.push({
        movement,
        where: { origin: where.origin, seq: where.seq, eventId: where.eventId, position: where.position },
      });
  }

  /**
   * `debitsComplete`: every account debit that could match a load was read (head office's chain
   * from its start); otherwise a load whose debit is not found is not reported.
   */
  finish(debitsComplete: boolean): PurseSummary {
    for (const card of this.cards.values()) while (card.waiting !== undefined) this.passOverGap(card);
    const loadedAt = new Map<string, Where>();
    for (const { movement, where } of this.appliedLoads) {
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
      // A load whose card MAC fails is named for that already; its debit is not judged.
      if ((facts === undefined && !debitsComplete) || !movement.macValid) continue;
      for (const divergence of loadDebitDivergences(movement, facts))
        this.fail(CHECK_OF[divergence.kind], where, `card ${movement.cardId}: ${divergence.message}`);
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
