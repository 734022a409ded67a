// What every purse operation at the counter shares: the card as inserted and checked, the store's
// log, its notes of sent pays and recorded loads, and the way a refusal ends an operation.
import type { Database } from 'better-sqlite3';
import { LOG_CAPACITY } from '../../card/index.js';
import { PinBlockError, Yen, type cardsys, type Fields, type NewDomainEvent } from '../../contracts/index.js';
import { checkCardUsable, isoDay, type CardFacts, type PurseOperation } from '../../domain/index.js';
import { CardStatusError, type BalanceReading, type CardInfo, type ChipTerminal, type LogRecord } from '../../reader/index.js';
import type { Logger } from '../../infra/index.js';
import type { EventLog } from '../log/index.js';
import { pinOf, type CounterOptions, type PosOutcome, type PosRequest } from '../pos/index.js';
import type { BlacklistCache } from './blacklist-cache.js';
import type { HeadOfficeLink } from './head-office-link.js';
import { RecordedLoads } from './recorded-loads.js';
import { SentPays } from './sent-pays.js';
import { SentRefunds } from './sent-refunds.js';

export interface PurseServiceOptions extends CounterOptions {
  storeId: string;
  log: EventLog;
  /** edge.db: the loads this store recorded, the pays it sent and not yet recorded. */
  db: Database;
  link: HeadOfficeLink;
  blacklist: BlacklistCache;
  logger?: Logger;
  now?: () => Date;
  /** A credit is not started closer than this to its authorisation's deadline. */
  creditSafetyMs?: number;
  /** Resolves once head office holds the store's log up to this sequence (a refund's pay must be there). */
  replicated?: (seq: number) => Promise<void>;
}

/** A card in a terminal, checked: what the purse decisions need. */
export interface InsertedCard {
  terminal: ChipTerminal;
  info: CardInfo;
  balance: BalanceReading;
  facts: CardFacts;
  /** A secure-messaging session is open (a new one would forget a verified PIN). */
  authenticated: boolean;
  /** What the insertion found and recorded of earlier pays whose card answer was lost. */
  notes: string[];
}

// Nested messages decode with every field set (defaults included); their generated types say optional.
export type LoadTerms = Fields<cardsys.v1.LoadAuthorisation>;
export type ChipCredit = Fields<cardsys.v1.ChipCredit>;
export type PinUnblockTerms = Fields<cardsys.v1.PinUnblockAuthorisation>;

/** The outcome of a command that ends early, thrown through the flow and turned into a reply. */
export class Refused extends Error {
  constructor(readonly outcome: PosOutcome) {
    super(outcome.message);
  }

  /** A refusal with its code and message, naming the card once it is known. */
  static because(code: string, message: string, cardId?: string): Refused {
    return new Refused({ ok: false, code, message, ...(cardId === undefined ? {} : { cardId }) });
  }
}

export class PurseCounter {
  readonly logger: Logger;
  readonly now: () => Date;
  readonly loads: RecordedLoads;
  readonly pays: SentPays;
  readonly refunds: SentRefunds;

  constructor(
    readonly options: PurseServiceOptions,
    /** Terminates a blacklisted card head office took as reported lost (card-return.ts): a note for the answer, or undefined. */
    private readonly captureLost: (request: PosRequest, card: InsertedCard) => Promise<string | undefined>,
  ) {
    this.logger = options.logger ?? console;
    this.loads = new RecordedLoads(options.db);
    this.pays = new SentPays(options.db);
    this.refunds = new SentRefunds(options.db);
    this.now = options.now ?? (() => new Date());
  }

  get storeId(): string {
    return this.options.storeId;
  }

  today(): string {
    return isoDay(this.now());
  }

  async authenticate(card: InsertedCard): Promise<void> {
    if (card.authenticated) return;
    await card.terminal.authenticate();
    card.authenticated = true;
  }

  /** The purse as read at insertion, or read again when settling open loads touched the card. */
  async balanceAfter(card: InsertedCard, settlementNotes: string[]): Promise<BalanceReading> {
    return settlementNotes.length === 0 ? card.balance : card.terminal.readBalance();
  }

  /** Authentication code, tamper check, expiry, blacklist: before anything else touches the card. */
  async refuseUnusable(request: PosRequest, card: InsertedCard, operation: PurseOperation, amount: number): Promise<void> {
    const refusal = checkCardUsable(card.facts, this.today());
    if (!refusal) return;
    const captured = refusal.code === 'blacklisted' ? await this.captureLost(request, card) : undefined;
    const answer = captured ? { code: refusal.code, message: `${refusal.message}; ${captured}` } : refusal;
    throw new Refused(await this.decline(request, card.info.cardId, operation, amount, answer, captured ? 0 : card.facts.balance));
  }

  /** Records the refusal of a purse operation and answers with its reason and the balance. */
  async decline(
    request: PosRequest,
    cardId: string,
    operation: PurseOperation,
    amount: number,
    refusal: { code: string; message: string },
    balance: number,
  ): Promise<PosOutcome> {
    const [entry] = await this.record(request, cardId, {
      type: 'PurseOperationDeclined',
      data: { cardId, operation, amount, reason: refusal.code, balance, storeId: this.storeId, terminalId: request.terminalName },
    });
    return { ok: false, code: refusal.code, message: refusal.message, cardId, balance, eventId: entry!.envelope.eventId };
  }

  record(request: PosRequest, cardId: string, event: NewDomainEvent) {
    return this.options.log.append([{ event, streamId: `card-${cardId}`, commandId: request.commandId, occurredAt: this.now() }]);
  }

  /** A PIN of the command, opened from its PIN block only to be presented to the card. */
  pinFrom(request: PosRequest, pinBlock: Uint8Array | null | undefined): string {
    try {
      const pin = pinOf(this.options, request, pinBlock);
      if (!/^\d{4,8}$/.test(pin)) throw new PinBlockError('PIN must be 4 to 8 digits');
      return pin;
    } catch (error) {
      if (error instanceof PinBlockError) throw Refused.because('bad_request', `PIN block: ${error.message}`);
      throw error;
    }
  }

  amountOf(amount: number | null | undefined): number {
    const parsed = Yen.safeParse(amount);
    if (!parsed.success) throw Refused.because('bad_request', `amount: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }
}

/**
 * The card's refusal of a PIN (VERIFY PIN, or the old PIN of CHANGE REFERENCE DATA) as a reply:
 * wrong with tries left, or blocked; undefined for any other error.
 */
export function pinRefusal(error: unknown): { code: string; message: string } | undefined {
  const tries = error instanceof CardStatusError ? error.pinTriesLeft : undefined;
  if (tries === undefined) return undefined;
  if (tries === 0)
    return {
      code: 'pin_blocked',
      message:
        "PIN blocked after too many wrong tries: the card takes no PIN until it is unblocked at a store, with the holder's identity checked",
    };
  return { code: 'wrong_pin', message: `wrong PIN: ${tries} ${tries === 1 ? 'try' : 'tries'} left` };
}

/** The oldest card counter the usage log (newest first, LOG_CAPACITY records at most) still holds. */
export function logCoversFrom(log: LogRecord[]): number {
  return log.length < LOG_CAPACITY ? 1 : Math.min(...log.map((r) => r.counter));
}
