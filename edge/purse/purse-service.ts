// Load and pay at the store, as POS command handlers. The chip is the purse; the store checks the
// card, asks head office's inquiry centre for loads, and records what happened in its own log.
//
// Load protocol (head office's side: host/purse): PIN verified by the card; authorisation asked
// for at the chip's counter c; PurseCreditStarted recorded before the credit goes to the card;
// PurseLoaded after. Every insertion first settles loads left open at an earlier insertion.
//
// Pay: the store remembers the pay before the debit goes to the card. When the card's answer is lost
// (card pulled after the chip committed), the card's next insertion at this store finds the debit in
// the chip's usage log and records it (domain/pay-recovery.ts).
import type { Database } from 'better-sqlite3';
import { RecordedLoads } from './recorded-loads.js';
import { SentPays } from './sent-pays.js';
import { bankIdDigits, fromHex, LOG_CAPACITY, newAuthorisationId, toHex } from '../../card/index.js';
import { Yen, type cardsys, type Fields, type NewDomainEvent } from '../../contracts/index.js';
import { checkCardUsable, decideLoad, decidePay, isoDay, recoverLostPays, yen, type CardFacts } from '../../domain/index.js';
import {
  CardReaderError,
  CardRemovedError,
  CardStatusError,
  type ChipTerminal,
  NoCardError,
  UnknownCardError,
  type BalanceReading,
  type CardInfo,
  type LogRecord,
} from '../../reader/index.js';
import type { EventLog } from '../log/index.js';
import { openChipTerminal, type CounterOptions, type PosOutcome, type PosRequest, type PosServer } from '../pos/index.js';
import type { BlacklistCache } from './blacklist-cache.js';
import { HeadOfficeUnreachableError, type HeadOfficeLink } from './head-office-link.js';
import type { Logger } from '../../infra/index.js';

export interface PurseServiceOptions extends CounterOptions {
  storeId: string;
  log: EventLog;
  /** edge.db: the loads this store recorded, the pays it sent and not yet recorded. */
  db: Database;
  link: HeadOfficeLink;
  blacklist: BlacklistCache;
  logger?: Logger;
  /** A credit is not started closer than this to its authorisation's deadline. */
  creditSafetyMs?: number;
}

/** A card in a terminal, checked: what the purse decisions need. */
interface InsertedCard {
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
type LoadTerms = Fields<cardsys.v1.LoadAuthorisation>;
type ChipCredit = Fields<cardsys.v1.ChipCredit>;

/** The outcome of a command that ends early, thrown through the flow and turned into a reply. */
class Refused extends Error {
  constructor(readonly outcome: PosOutcome) {
    super(outcome.message);
  }
}

export class PurseService {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly loads: RecordedLoads;
  private readonly pays: SentPays;

  constructor(private readonly options: PurseServiceOptions) {
    this.logger = options.logger ?? console;
    this.loads = new RecordedLoads(options.db);
    this.pays = new SentPays(options.db);
    this.now = options.now ?? (() => new Date());
  }

  register(pos: PosServer): void {
    pos.register('pay', (request) => this.guard(request, () => this.pay(request)));
    pos.register('load', (request) => this.guard(request, () => this.load(request)));
    pos.register('read', (request) => this.guard(request, () => this.read(request)));
  }

  private async read(request: PosRequest): Promise<PosOutcome> {
    const card = await this.insert(request);
    const notes = await this.settleOpenLoads(card, request, false);
    const { balance } = await this.balanceAfter(card, notes);
    const refusal = checkCardUsable(card.facts, this.today());
    const status = refusal ? `not usable: ${refusal.message}` : `card valid until ${card.info.expiry}`;
    return { ok: true, code: 'read', message: [`balance ${yen(balance)}, ${status}`, ...card.notes, ...notes].join('; '), cardId: card.info.cardId, balance };
  }

  private async pay(request: PosRequest): Promise<PosOutcome> {
    const amount = this.amountOf(request.command.pay?.amount);
    const card = await this.insert(request);
    await this.refuseUnusable(request, card, 'pay', amount);
    const balance = await this.balanceAfter(card, await this.settleOpenLoads(card, request, false));
    const decision = decidePay({ ...card.facts, balance: balance.balance }, amount, this.today());
    if (!decision.ok) return this.decline(request, card.info.cardId, 'pay', amount, decision, balance.balance);
    await this.authenticate(card);
    const sent = { cardId: card.info.cardId, cardCounter: balance.counter + 1, amount, terminalId: toHex(card.terminal.terminalId) };
    this.pays.sending(sent);
    let receipt;
    try {
      receipt = await card.terminal.debit({ amount, at: this.now() });
    } catch (error) {
      // The card refused: nothing was debited.
      if (error instanceof CardStatusError) this.pays.forget(sent);
      else if (error instanceof CardRemovedError) {
        throw new Refused({
          ok: false,
          code: 'card_removed',
          message: 'card removed during the pay: insert it again; if the card took the pay, it is recorded then',
          cardId: card.info.cardId,
        });
      }
      throw error;
    }
    const [entry] = await this.record(request, card.info.cardId, {
      type: 'PursePaid',
      data: {
        cardId: receipt.cardId,
        amount,
        newBalance: receipt.newBalance,
        cardCounter: receipt.counter,
        cardMac: fromHex(receipt.mac),
        storeId: this.options.storeId,
        terminalId: request.terminalId,
      },
    });
    this.pays.recorded(receipt.cardId, receipt.counter);
    return { ok: true, code: 'paid', message: `paid ${yen(amount)}; balance ${yen(receipt.newBalance)}`, cardId: receipt.cardId, balance: receipt.newBalance, eventId: entry!.envelope.eventId };
  }

  private async load(request: PosRequest): Promise<PosOutcome> {
    const amount = this.amountOf(request.command.load?.amount);
    const pin = request.command.load?.pin ?? '';
    if (!/^\d{4,8}$/.test(pin)) throw new Refused({ ok: false, code: 'bad_request', message: 'PIN must be 4 to 8 digits' });
    const card = await this.insert(request);
    const cardId = card.info.cardId;
    await this.refuseUnusable(request, card, 'load', amount);
    await this.authenticate(card);
    try {
      await card.terminal.verifyPin(pin);
    } catch (error) {
      const tries = error instanceof CardStatusError ? error.pinTriesLeft : undefined;
      if (tries === undefined) throw error;
      const refusal = tries === 0
        ? { code: 'pin_blocked', message: 'PIN blocked after too many wrong tries: this card can no longer be loaded' }
        : { code: 'wrong_pin', message: `wrong PIN: ${tries} ${tries === 1 ? 'try' : 'tries'} left` };
      return this.decline(request, cardId, 'load', amount, refusal, card.facts.balance);
    }
    const bankId = await this.bankIdOf(card, request);
    const balance = await this.balanceAfter(card, await this.settleOpenLoads(card, request, true));
    const decision = decideLoad({ ...card.facts, balance: balance.balance }, amount, this.today());
    if (!decision.ok) return this.decline(request, cardId, 'load', amount, decision, balance.balance);

    const reply = await this.options.link.inquire(
      request.terminalId,
      { authorise: { authorizationId: newAuthorisationId(), cardId, bankId, amount, cardCounter: balance.counter } },
      { attempts: 2 },
    );
    if (!reply.ok || !reply.authorisation) {
      return this.decline(request, cardId, 'load', amount, { code: reply.code, message: `head office refused the load: ${reply.message}` }, balance.balance);
    }
    const loaded = await this.credit(card, reply.authorisation as LoadTerms, request);
    return { ok: true, code: 'loaded', message: `loaded ${yen(amount)}; balance ${yen(loaded.newBalance)}`, cardId, balance: loaded.newBalance, eventId: loaded.eventId };
  }

  /** Credits the card with an authorisation, recording the start before and the load after. */
  private async credit(card: InsertedCard, terms: LoadTerms, request: PosRequest): Promise<{ newBalance: number; eventId: string }> {
    const cardId = card.info.cardId;
    if (this.now().getTime() >= terms.deadlineMs - (this.options.creditSafetyMs ?? 2_000)) {
      await this.release(request, terms.authorizationId);
      throw new Refused({ ok: false, code: 'authorisation_expired', message: 'head office answered too late to credit the card; the account is credited back' });
    }
    await this.record(request, cardId, {
      type: 'PurseCreditStarted',
      data: { cardId, authorizationId: terms.authorizationId, amount: terms.amount, cardCounter: terms.cardCounter, storeId: this.options.storeId, terminalId: request.terminalId },
    });
    let receipt;
    try {
      receipt = await card.terminal.credit({ amount: terms.amount, authorisationId: terms.authorizationId, authorisationMac: toHex(terms.mac), at: this.now() });
    } catch (error) {
      // The card refused: nothing was credited, so head office may give the money back now.
      if (error instanceof CardStatusError) await this.release(request, terms.authorizationId);
      else if (error instanceof CardRemovedError) {
        throw new Refused({
          ok: false,
          code: 'card_removed',
          message: 'card removed during the load: it completes at the card\'s next insertion at any store, or the money returns to the account',
          cardId,
        });
      }
      throw error;
    }
    const [entry] = await this.record(request, cardId, {
      type: 'PurseLoaded',
      data: {
        cardId,
        amount: terms.amount,
        newBalance: receipt.newBalance,
        cardCounter: receipt.counter,
        authorizationId: terms.authorizationId,
        cardMac: fromHex(receipt.mac),
        storeId: this.options.storeId,
        terminalId: request.terminalId,
      },
    });
    this.loads.remember(terms.authorizationId);
    this.pays.recorded(cardId, receipt.counter);
    return { newBalance: receipt.newBalance, eventId: entry!.envelope.eventId };
  }

  /**
   * At every insertion with head office reachable: are loads of this card still open? Usually one
   * round trip says no. Otherwise the chip's log goes to head office, which says per authorisation
   * whether the credit is on the chip (record it), may be made now (credit it), or went back.
   */
  private async settleOpenLoads(card: InsertedCard, request: PosRequest, canCredit: boolean): Promise<string[]> {
    if (!this.options.link.online) return [];
    const cardId = card.info.cardId;
    try {
      const probe = await this.options.link.inquire(request.terminalId, { pending: { cardId, cardCounter: card.balance.counter } });
      if (probe.code !== 'log_needed') return [];
      await this.authenticate(card);
      const log = await card.terminal.readLog();
      const balance = await card.terminal.readBalance();
      const reply = await this.options.link.inquire(request.terminalId, {
        pending: {
          cardId,
          cardCounter: balance.counter,
          logRead: true,
          canCredit,
          logCoversFromCounter: logCoversFrom(log),
          credits: log
            .filter((r) => r.operation === 'credit')
            .map((r) => ({ amount: r.amount, cardCounter: r.counter, newBalance: r.balanceAfter, cardMac: fromHex(r.mac), atMs: r.time.getTime(), terminalId: fromHex(r.terminalId) })),
        },
      });
      const notes: string[] = [];
      for (const pending of reply.pending) {
        const terms = pending.authorisation as LoadTerms;
        if (pending.action === 'record' && pending.found && !this.loads.recorded(terms.authorizationId)) {
          const found = pending.found as ChipCredit;
          await this.record(request, cardId, {
            type: 'PurseLoaded',
            data: {
              cardId,
              amount: found.amount,
              newBalance: found.newBalance,
              cardCounter: found.cardCounter,
              authorizationId: terms.authorizationId,
              cardMac: found.cardMac,
              storeId: this.options.storeId,
              // The terminal that made the credit, as the chip logged it (its MAC covers this id).
              terminalId: toHex(found.terminalId),
              recovered: true,
            },
          });
          this.loads.remember(terms.authorizationId);
          this.pays.recorded(cardId, found.cardCounter);
          notes.push(`earlier load of ${yen(found.amount)} found on the card and recorded`);
        } else if (pending.action === 'credit') {
          await this.credit(card, terms, request);
          notes.push(`earlier load of ${yen(terms.amount)} completed`);
        } else if (pending.action === 'reversed') {
          notes.push(`earlier load of ${yen(terms.amount)} returned to the bank account`);
        }
      }
      return notes;
    } catch (error) {
      if (error instanceof HeadOfficeUnreachableError) return [];
      throw error;
    }
  }

  /**
   * At every insertion, when this store sent the card a pay it did not record (the card's answer was
   * lost): the chip's usage log says whether the debit was made; if so it is recorded, with the
   * chip's MAC and the terminal id it logged, marked recovered.
   */
  private async recoverLostPays(card: InsertedCard, request: PosRequest): Promise<string[]> {
    const cardId = card.info.cardId;
    const sent = this.pays.unrecorded(cardId);
    if (sent.length === 0) return [];
    await this.authenticate(card);
    const log = await card.terminal.readLog();
    const steps = recoverLostPays({
      sent,
      lastRecordedCounter: this.pays.lastRecordedCounter(cardId),
      chipCounter: card.balance.counter,
      log,
      logCoversFromCounter: logCoversFrom(log),
    });
    const notes: string[] = [];
    for (const step of steps) {
      if (step.action === 'forget') {
        if (step.reason === 'beyond_log') {
          this.logger.warn(`purse: pay of ${yen(step.sent.amount)} sent to card ${cardId} at counter ${step.sent.cardCounter} is past the card's usage log: it cannot be recorded`);
        }
        this.pays.forget(step.sent);
        continue;
      }
      const { debit } = step;
      await this.record(request, cardId, {
        type: 'PursePaid',
        data: {
          cardId,
          amount: debit.amount,
          newBalance: debit.balanceAfter,
          cardCounter: debit.counter,
          cardMac: fromHex(debit.mac),
          storeId: this.options.storeId,
          // The terminal that made the debit, as the chip logged it (its MAC covers this id).
          terminalId: debit.terminalId,
          recovered: true,
        },
      });
      this.pays.recorded(cardId, debit.counter);
      notes.push(`earlier pay of ${yen(debit.amount)} found on the card and recorded`);
    }
    return notes;
  }

  /** The purse as read at insertion, or read again when settling open loads touched the card. */
  private async balanceAfter(card: InsertedCard, settlementNotes: string[]): Promise<BalanceReading> {
    return settlementNotes.length === 0 ? card.balance : card.terminal.readBalance();
  }

  private async release(request: PosRequest, authorizationId: string): Promise<void> {
    try {
      await this.options.link.inquire(request.terminalId, { release: { authorizationId, reason: 'credit not made' } });
    } catch (error) {
      this.logger.warn(`purse: could not release authorisation ${authorizationId} (head office reverses it after its deadline): ${(error as Error).message}`);
    }
  }

  /** Opens the card in the terminal's reader and runs the checks every purse operation needs. */
  private async insert(request: PosRequest): Promise<InsertedCard> {
    const terminal = await openChipTerminal(this.options, request.terminalId);
    const verdict = await terminal.checkValidity(this.now());
    const info = verdict.info;
    if (info.lifecycle === 'blank' || !verdict.balance) throw new Refused({ ok: false, code: 'card_unusable', message: 'this card cannot be used: it is not issued' });
    const listed = this.options.blacklist.find(info.cardId);
    const facts: CardFacts = {
      cardId: info.cardId,
      authCodeValid: terminal.verifyAuthCode(info),
      dataMacValid: !verdict.balance.tampered,
      expiry: info.expiry,
      balance: verdict.balance.balance,
      blacklisted: listed !== undefined,
      blacklistReason: listed?.reason,
    };
    const card: InsertedCard = { terminal, info, balance: verdict.balance, facts, authenticated: false, notes: [] };
    card.notes = await this.recoverLostPays(card, request);
    return card;
  }

  private async authenticate(card: InsertedCard): Promise<void> {
    if (card.authenticated) return;
    await card.terminal.authenticate();
    card.authenticated = true;
  }

  /** Authentication code, tamper check, expiry, blacklist: before anything else touches the card. */
  private async refuseUnusable(request: PosRequest, card: InsertedCard, operation: 'load' | 'pay', amount: number): Promise<void> {
    const refusal = checkCardUsable(card.facts, this.today());
    if (refusal) throw new Refused(await this.decline(request, card.info.cardId, operation, amount, refusal, card.facts.balance));
  }

  private async bankIdOf(card: InsertedCard, request: PosRequest): Promise<string> {
    const onChip = bankIdDigits(await card.terminal.readBankId());
    if (!this.options.stripeReader) return onChip;
    const onStripe = bankIdDigits(await this.options.stripeReader(request.terminalId));
    if (onStripe !== onChip) throw new Refused({ ok: false, code: 'card_unusable', message: 'the magnetic stripe and the chip name different bank accounts', cardId: card.info.cardId });
    return onStripe;
  }

  /** Records the refusal of a purse operation and answers with its reason and the balance. */
  private async decline(request: PosRequest, cardId: string, operation: 'load' | 'pay', amount: number, refusal: { code: string; message: string }, balance: number): Promise<PosOutcome> {
    const [entry] = await this.record(request, cardId, {
      type: 'PurseOperationDeclined',
      data: { cardId, operation, amount, reason: refusal.code, balance, storeId: this.options.storeId, terminalId: request.terminalId },
    });
    return { ok: false, code: refusal.code, message: refusal.message, cardId, balance, eventId: entry!.envelope.eventId };
  }

  private record(request: PosRequest, cardId: string, event: NewDomainEvent) {
    return this.options.log.append([{ event, streamId: `card-${cardId}`, commandId: request.commandId, occurredAt: this.now() }]);
  }

  private amountOf(amount: number | null | undefined): number {
    const parsed = Yen.safeParse(amount);
    if (!parsed.success) throw new Refused({ ok: false, code: 'bad_request', message: `amount: ${parsed.error.issues[0]?.message ?? 'invalid'}` });
    return parsed.data;
  }

  private today(): string {
    return isoDay(this.now());
  }

  /** Turns refusals and card or network trouble into replies a person at the counter understands. */
  private async guard(request: PosRequest, flow: () => Promise<PosOutcome>): Promise<PosOutcome> {
    try {
      return await flow();
    } catch (error) {
      if (error instanceof Refused) return error.outcome;
      if (error instanceof HeadOfficeUnreachableError) return { ok: false, code: 'head_office_unreachable', message: `${error.message}; loads need head office, pays do not` };
      if (error instanceof CardRemovedError) return { ok: false, code: 'card_removed', message: 'card removed during the operation: nothing was recorded; insert it again' };
      if (error instanceof NoCardError) return { ok: false, code: 'no_card', message: `no card in the reader of terminal ${request.terminalId}` };
      if (error instanceof UnknownCardError) return { ok: false, code: 'card_unusable', message: `this card cannot be used: ${error.message}` };
      if (error instanceof CardStatusError) return { ok: false, code: 'card_refused', message: error.message };
      if (error instanceof CardReaderError) return { ok: false, code: 'card_error', message: error.message };
      throw error;
    }
  }
}

/** The oldest card counter the usage log (newest first, LOG_CAPACITY records at most) still holds. */
function logCoversFrom(log: LogRecord[]): number {
  return log.length < LOG_CAPACITY ? 1 : Math.min(...log.map((r) => r.counter));
}
