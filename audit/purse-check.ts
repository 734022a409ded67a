// Checks the purse from the events alone: every card MAC (with the issuer master keys), every card
// counter (1, 2, 3, … per card, none repeated or skipped), the balance arithmetic per card (new
// balance = old ± amount, no pay beyond the balance), and that every load is matched by exactly
// one bank-account debit that was not given back. A card's operations reach head office from
// several stores in any order, so they are checked in card-counter order once all are read.
import { deriveCardKey, fromHex, terminalIdOf, transactionMac, equalBytes, cardIdBytes, type IssuerMasterKeys } from '../card/index.js';
import { decodeEvent, type EventType } from '../contracts/index.js';
import type { ChainedEvent } from './chain-check.js';
import { CHECKS, type Finding, type Report } from './findings.js';

/** Event types this check reads; every other payload stays undecoded. */
export const PURSE_EVENT_TYPES: ReadonlySet<string> = new Set<EventType | string>([
  'PurseLoaded',
  'PursePaid',
  'BankAccountDebited',
  'LoadAuthorisationReversed',
]);

interface CardOperation {
  operation: 'credit' | 'debit';
  counter: number;
  amount: number;
  newBalance: number;
  where: Pick<Finding, 'store' | 'seq' | 'eventId' | 'position'>;
}

interface Load {
  cardId: string;
  amount: number;
  where: CardOperation['where'];
}

interface Debit {
  amount: number;
  cardId: string;
  where: CardOperation['where'];
}

const whereOf = (event: ChainedEvent): CardOperation['where'] => ({ store: event.origin, seq: event.seq, eventId: event.eventId, position: String(event.position) });

/** The bytes a card MACs for a terminal: the id as recorded in hex, or derived from its name. */
function terminalBytes(terminalId: string): Uint8Array {
  return /^[0-9a-fA-F]{16}$/.test(terminalId) ? fromHex(terminalId) : terminalIdOf(terminalId);
}

export interface PurseSummary {
  cards: number;
  loads: number;
  pays: number;
  debits: number;
  /** Authorisations debited from an account whose load has not (yet) been recorded and was not given back. */
  openDebits: number;
}

export class PurseAuditor {
  private readonly cards = new Map<string, CardOperation[]>();
  private readonly loads = new Map<string, Load[]>();
  private readonly debits = new Map<string, Debit[]>();
  private readonly reversed = new Set<string>();
  private readonly transactionKeys = new Map<string, Uint8Array>();
  private pays = 0;

  /**
   * `issuerKeys` undefined: card MACs cannot be checked (reported once at the end, not per event).
   * `fromGenesis`: every card's first operation must be counter 1 on a zero balance.
   */
  constructor(
    private readonly report: Report,
    private readonly issuerKeys: IssuerMasterKeys | undefined,
    private readonly fromGenesis: boolean,
  ) {}

  /** Every event of every chain, in sequence order; only purse events are decoded. */
  onEvent(event: ChainedEvent): void {
    const envelope = event.envelope;
    if (envelope === undefined || !PURSE_EVENT_TYPES.has(envelope.eventType)) return;
    let decoded;
    try {
      decoded = decodeEvent(envelope.eventType, envelope.payload);
    } catch (error) {
      this.report({ check: CHECKS.decode, ...whereOf(event), message: `${envelope.eventType} payload: ${(error as Error).message}` });
      return;
    }
    switch (decoded.type) {
      case 'PurseLoaded': {
        const { cardId, amount, newBalance, cardCounter, authorizationId, cardMac, terminalId } = decoded.data;
        this.operation(event, cardId, { operation: 'credit', counter: cardCounter, amount, newBalance, where: whereOf(event) }, cardMac, terminalId);
        push(this.loads, authorizationId, { cardId, amount, where: whereOf(event) });
        return;
      }
      case 'PursePaid': {
        const { cardId, amount, newBalance, cardCounter, cardMac, terminalId } = decoded.data;
        this.pays += 1;
        this.operation(event, cardId, { operation: 'debit', counter: cardCounter, amount, newBalance, where: whereOf(event) }, cardMac, terminalId);
        return;
      }
      case 'BankAccountDebited':
        push(this.debits, decoded.data.authorizationId, { amount: decoded.data.amount, cardId: decoded.data.cardId, where: whereOf(event) });
        return;
      case 'LoadAuthorisationReversed':
        this.reversed.add(decoded.data.authorizationId);
        return;
      default:
        return;
    }
  }

  private operation(event: ChainedEvent, cardId: string, operation: CardOperation, mac: Uint8Array, terminalId: string): void {
    push(this.cards, cardId, operation);
    if (this.issuerKeys === undefined) return;
    let valid: boolean;
    try {
      const cardBytes = cardIdBytes(cardId);
      let key = this.transactionKeys.get(cardId);
      if (key === undefined) {
        key = deriveCardKey(this.issuerKeys.transaction, cardBytes, 'transaction');
        this.transactionKeys.set(cardId, key);
      }
      const expected = transactionMac(key, operation.operation, cardBytes, operation.counter, operation.amount, operation.newBalance, terminalBytes(terminalId));
      valid = equalBytes(expected, mac);
    } catch (error) {
      this.report({ check: CHECKS.cardMac, ...whereOf(event), message: `card ${cardId}: the MAC cannot be checked: ${(error as Error).message}` });
      return;
    }
    if (!valid) {
      const what = operation.operation === 'credit' ? 'load' : 'pay';
      this.report({
        check: CHECKS.cardMac,
        ...whereOf(event),
        message: `card ${cardId}: the card MAC on this ${what} (counter ${operation.counter}, ${operation.amount} yen, new balance ${operation.newBalance}) is not the card's: amount, balance, counter or terminal differ from what the card signed`,
      });
    }
  }

  finish(): PurseSummary {
    for (const [cardId, operations] of this.cards) this.checkCard(cardId, operations);
    let openDebits = 0;
    for (const [authorizationId, loads] of this.loads) {
      const debits = this.debits.get(authorizationId) ?? [];
      for (const load of loads.slice(1)) {
        this.report({ check: CHECKS.loadDebit, ...load.where, message: `card ${load.cardId}: authorisation ${authorizationId} was already loaded (event ${loads[0]!.where.eventId}); one debit cannot pay for two loads` });
      }
      const load = loads[0]!;
      if (debits.length === 0) {
        this.report({ check: CHECKS.loadDebit, ...load.where, message: `card ${load.cardId}: load of ${load.amount} yen under authorisation "${authorizationId}" has no bank-account debit` });
      } else if (debits.length > 1) {
        this.report({ check: CHECKS.loadDebit, ...load.where, message: `card ${load.cardId}: authorisation ${authorizationId} was debited ${debits.length} times (${debits.map((d) => d.where.eventId).join(', ')})` });
      } else if (debits[0]!.amount !== load.amount || debits[0]!.cardId !== load.cardId) {
        this.report({
          check: CHECKS.loadDebit,
          ...load.where,
          message: `card ${load.cardId}: load of ${load.amount} yen does not match its debit ${debits[0]!.where.eventId} (${debits[0]!.amount} yen, card ${debits[0]!.cardId})`,
        });
      }
      if (this.reversed.has(authorizationId)) {
        this.report({ check: CHECKS.loadDebit, ...load.where, message: `card ${load.cardId}: authorisation ${authorizationId} was loaded on the card and also given back to the account` });
      }
    }
    for (const authorizationId of this.debits.keys()) if (!this.loads.has(authorizationId) && !this.reversed.has(authorizationId)) openDebits += 1;
    const loads = [...this.loads.values()].reduce((n, l) => n + l.length, 0);
    const debits = [...this.debits.values()].reduce((n, d) => n + d.length, 0);
    return { cards: this.cards.size, loads, pays: this.pays, debits, openDebits };
  }

  /** One card's operations in counter order: counters consecutive, balances following. */
  private checkCard(cardId: string, operations: CardOperation[]): void {
    operations.sort((a, b) => a.counter - b.counter);
    let previous: CardOperation | undefined;
    for (const operation of operations) {
      const expectedCounter = previous ? previous.counter + 1 : this.fromGenesis ? 1 : operation.counter;
      const oldBalance = previous ? previous.newBalance : this.fromGenesis ? 0 : undefined;
      if (previous && operation.counter === previous.counter) {
        this.report({ check: CHECKS.cardCounter, ...operation.where, message: `card ${cardId}: counter ${operation.counter} is used again (first by event ${previous.where.eventId})` });
        continue;
      }
      if (operation.counter !== expectedCounter) {
        this.report({
          check: CHECKS.cardCounter,
          ...operation.where,
          message: `card ${cardId}: counter ${operation.counter} follows counter ${expectedCounter - 1}: ${operation.counter - expectedCounter} card operation(s) missing`,
        });
      } else if (oldBalance !== undefined) {
        this.checkBalance(cardId, operation, oldBalance);
      }
      previous = operation;
    }
  }

  private checkBalance(cardId: string, operation: CardOperation, oldBalance: number): void {
    if (operation.operation === 'debit' && operation.amount > oldBalance) {
      this.report({ check: CHECKS.purseBalance, ...operation.where, message: `card ${cardId}: pay of ${operation.amount} yen is beyond the balance of ${oldBalance} yen` });
      return;
    }
    const expected = operation.operation === 'credit' ? oldBalance + operation.amount : oldBalance - operation.amount;
    if (operation.newBalance !== expected) {
      const sign = operation.operation === 'credit' ? '+' : '-';
      this.report({
        check: CHECKS.purseBalance,
        ...operation.where,
        message: `card ${cardId}: new balance ${operation.newBalance} yen ≠ ${oldBalance} ${sign} ${operation.amount} = ${expected} yen`,
      });
    }
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
