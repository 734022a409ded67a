// Head office's inquiry centre: answers stores' load authorisation requests (debiting the bank
// account and returning the credit MAC), settles open authorisations when their card turns up,
// reverses them when that is safe, and keeps and distributes the blacklist.
//
// Its state is folded from the host event store (head office's own `hq` stream and every store's
// stream) through one catch-up subscription. Decisions run one at a time and fold their own events
// at once (the subscription passes over them later), so the next decision sees them.
import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { ZodError } from 'zod';
import {
  ContractError,
  HQ_ORIGIN,
  decodeEvent,
  decodeOrThrow,
  pb,
  subjects,
  type cardsys,
  type DomainEvent,
  type NewDomainEvent,
} from '../../contracts/index.js';
import { authoriseCredit, type IssuerMasterKeys } from '../../card/index.js';
import {
  type Authorisation,
  type BlacklistEntry,
  type BlacklistState,
  DomainRefusal,
  decideBlacklist,
  decideInquiry,
  evolveBlacklist,
  evolveInquiry,
  type InquiryCommand,
  type InquiryState,
  initialBlacklistState,
  initialInquiryState,
  openAuthorisationsOf,
  settleAtInsertion,
  timeoutReversible,
} from '../../domain/index.js';
import { type EventStore, type Subscription, domainEventsOf } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { type HqWriter, NotWriterError } from '../hq-writer/index.js';
import { serveRequests, storeAskingOn, type RefusedRequests } from '../../infra/nats/index.js';
import { AuthoriseRequest, PendingRequest } from './requests.js';

export interface InquiryCentreOptions {
  /** Answers stores' inquiry and blacklist requests. */
  nc: NatsConnection;
  /** Publishes blacklist changes; `nc` when omitted. */
  publisher?: NatsConnection;
  /** Where refused requests are counted. */
  refused?: RefusedRequests;
  store: EventStore;
  /**
   * Head office's writer. Without one the centre only follows the event store (a follower
   * instance's view of balances and the blacklist): it answers no store and decides nothing.
   */
  writer?: HqWriter;
  issuerKeys: IssuerMasterKeys;
  logger?: Logger;
  /** Told of each blacklist sync answered: the store and the version it was sent. */
  onBlacklistSync?: (storeId: string, version: number) => void;
  /** How long a store has to credit the card after the authorisation. */
  validForMs?: number;
  /** Added to a deadline before head office acts on it alone (clock skew, credits in flight). */
  marginMs?: number;
  /** How often open authorisations are checked for a timeout reversal; 0 turns the timer off. */
  sweepEveryMs?: number;
  now?: () => number;
}

type Reply = cardsys.v1.InquiryReply.$Properties;

const STREAM_OF_ACCOUNT = (bankId: string) => `account-${bankId}`;
const STREAM_OF_CARD = (cardId: string) => `card-${cardId}`;

export class InquiryCentre {
  private readonly state: InquiryState = initialInquiryState();
  private readonly blacklistState: BlacklistState = initialBlacklistState();
  /** Per store: the latest occurred-at of its events in the host event store. */
  private readonly storeLogReached = new Map<string, number>();
  /** Which `hq` events are folded: own appends are folded at once, and may come by the subscription too. */
  private readonly foldedHq = new FoldedSequences();
  private queue: Promise<unknown> = Promise.resolve();
  private subscription: Subscription | undefined;
  private readonly natsSubscriptions: NatsSubscription[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly validForMs: number;
  private readonly marginMs: number;
  private readonly now: () => number;

  private constructor(private readonly options: InquiryCentreOptions) {
    this.logger = options.logger ?? console;
    this.validForMs = options.validForMs ?? 60_000;
    this.marginMs = options.marginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  static async start(options: InquiryCentreOptions): Promise<InquiryCentre> {
    const centre = new InquiryCentre(options);
    await centre.catchUp();
    if (!options.writer) return centre;
    centre.listen();
    const every = options.sweepEveryMs ?? 5_000;
    if (every > 0)
      centre.sweepTimer = setInterval(
        () => void centre.sweep().catch((e: Error) => centre.logger.error(`inquiry: sweep failed: ${e.message}`)),
        every,
      );
    return centre;
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const subscription of this.natsSubscriptions) subscription.unsubscribe();
    await this.queue.catch(() => undefined);
    await this.subscription?.stop();
  }

  /** A copy of one authorisation as head office holds it. */
  authorisation(authorizationId: string): Authorisation | undefined {
    const found = this.state.authorisations.get(authorizationId);
    return found && { ...found, holders: [...found.holders] };
  }

  accountBalance(bankId: string): number | undefined {
    return this.state.accounts.get(bankId)?.balance;
  }

  get blacklistVersion(): number {
    return this.blacklistState.version;
  }

  blacklistEntry(cardId: string): BlacklistEntry | undefined {
    return this.blacklistState.entries.get(cardId);
  }

  /** Opens a bank account with an opening balance (the bank's side, for set-up and demos). */
  openAccount(bankId: string, balance: number): Promise<void> {
    return this.exclusive(async () => {
      await this.appendDecision({ kind: 'open_account', bankId, balance }, STREAM_OF_ACCOUNT(bankId));
    });
  }

  /** Blacklists or reinstates a card, and tells every store at once. Refusals are DomainRefusal. */
  changeBlacklist(kind: 'blacklist' | 'reinstate', cardId: string, reason: string): Promise<{ version: number }> {
    return this.exclusive(async () => {
      const events = decideBlacklist({ kind, cardId, reason, nowMs: this.now() }, this.blacklistState);
      await this.appendAndFold(events, STREAM_OF_CARD(cardId));
      const change = {
        version: this.blacklistState.version,
        cardId,
        blacklisted: kind === 'blacklist',
        reason: reason.trim(),
        atMs: this.now(),
      };
      (this.options.publisher ?? this.options.nc).publish(subjects.blacklistChanges, pb.BlacklistChange.encode(change).finish());
      return { version: this.blacklistState.version };
    });
  }

  /** Reverses every open authorisation that a timeout alone may reverse; returns how many. */
  sweep(): Promise<number> {
    return this.exclusive(async () => {
      const now = this.now();
      let reversed = 0;
      for (const authorisation of [...this.state.authorisations.values()]) {
        if (!timeoutReversible(authorisation, now, this.marginMs, (storeId) => this.storeLogReached.get(storeId))) continue;
        await this.appendDecision(
          { kind: 'reverse', authorizationId: authorisation.authorizationId, reason: 'timeout' },
          STREAM_OF_ACCOUNT(authorisation.bankId),
        );
        this.logger.info(
          `inquiry: authorisation ${authorisation.authorizationId} reversed after its deadline; ${authorisation.amount} yen back to ${authorisation.bankId}`,
        );
        reversed++;
      }
      return reversed;
    });
  }

  private async catchUp(): Promise<void> {
    let last: bigint | undefined;
    for (;;) {
      const records = await this.options.store.readAll({
        after: last,
        maxCount: 5_000,
      });
      if (records.length === 0) break;
      this.fold(records);
      last = records[records.length - 1]!.position;
    }
    this.subscription = this.options.store.subscribeToAll({
      after: last,
      handler: (records) => this.fold(records),
    });
    this.subscription.done.catch((error: Error) => this.logger.error(`inquiry: event subscription ended: ${error.message}`));
  }

  private fold(records: Parameters<typeof domainEventsOf>[0]): void {
    const completions: Array<{
      authorizationId: string;
      storeId: string;
      cardCounter: number;
      recovered: boolean;
    }> = [];
    for (const { envelope, event } of domainEventsOf(records)) {
      if (envelope.storeId === HQ_ORIGIN && !this.foldedHq.add(envelope.storeSeq)) continue;
      this.evolve(event, envelope.occurredAtMs);
      if (envelope.storeId !== HQ_ORIGIN) {
        this.storeLogReached.set(envelope.storeId, Math.max(this.storeLogReached.get(envelope.storeId) ?? 0, envelope.occurredAtMs));
        if (event.type === 'PurseLoaded' && this.state.authorisations.get(event.data.authorizationId)?.status === 'open') {
          completions.push({
            authorizationId: event.data.authorizationId,
            storeId: envelope.storeId,
            cardCounter: event.data.cardCounter,
            recovered: event.data.recovered,
          });
        }
      }
    }
    // Recording a completion is a decision of its own: it waits its turn after the fold.
    if (this.options.writer) for (const completion of completions) void this.complete(completion);
  }

  private complete(completion: { authorizationId: string; storeId: string; cardCounter: number; recovered: boolean }): Promise<void> {
    return this.exclusive(async () => {
      const authorisation = this.state.authorisations.get(completion.authorizationId);
      if (!authorisation) return;
      await this.appendDecision({ kind: 'complete', ...completion }, STREAM_OF_ACCOUNT(authorisation.bankId));
    }).catch((error: Error) => this.logger.error(`inquiry: cannot record completion of ${completion.authorizationId}: ${error.message}`));
  }

  private listen(): void {
    const { nc } = this.options;
    const common = { askerOf: storeAskingOn, logger: this.logger, ...(this.options.refused ? { refused: this.options.refused } : {}) };
    this.natsSubscriptions.push(
      serveRequests(nc, {
        ...common,
        service: 'inquiry',
        subject: subjects.inquiryAll,
        answer: (msg, asker) => this.answerInquiry(msg, asker.storeId),
      }),
      serveRequests(nc, {
        ...common,
        service: 'blacklist sync',
        subject: subjects.blacklistSyncAll,
        answer: (msg, asker) => this.answerBlacklistSync(msg, asker.storeId),
      }),
    );
  }

  private async answerInquiry(msg: Msg, storeId: string): Promise<Uint8Array> {
    let reply: Reply;
    try {
      reply = await this.inquire(storeId, msg.data);
    } catch (error) {
      if (error instanceof DomainRefusal) reply = { ok: false, code: error.code, message: error.message };
      else if (error instanceof ContractError) reply = { ok: false, code: 'bad_request', message: error.message };
      else if (error instanceof ZodError) {
        const issue = error.issues[0];
        reply = {
          ok: false,
          code: 'bad_request',
          message: `${issue?.path.join('.') || 'request'}: ${issue?.message ?? 'invalid'}`,
        };
      } else {
        this.logger.error(`inquiry: request on ${msg.subject} failed: ${(error as Error).stack ?? String(error)}`);
        reply = {
          ok: false,
          code: 'error',
          message: `head office could not answer: ${(error as Error).message}`,
        };
      }
    }
    return pb.InquiryReply.encode(reply).finish();
  }

  /** One InquiryRequest from a store (the subject names the store; the request must agree). */
  async inquire(subjectStoreId: string, bytes: Uint8Array): Promise<Reply> {
    const request = decodeOrThrow('InquiryRequest', () => pb.InquiryRequest.decode(bytes));
    if (request.storeId !== subjectStoreId)
      throw new DomainRefusal('bad_request', `request names store "${request.storeId}" on store ${subjectStoreId}'s subject`);
    if (!request.terminalId) throw new DomainRefusal('bad_request', 'terminal_id is required');
    switch (request.kind) {
      case 'authorise':
        return this.authorise(request.storeId, request.terminalId, AuthoriseRequest.parse(request.authorise));
      case 'pending':
        return this.settle(request.storeId, request.terminalId, PendingRequest.parse(request.pending));
      case 'release':
        return this.release(request.storeId, request.release?.authorizationId ?? '');
      default:
        throw new DomainRefusal('bad_request', 'request has no kind (authorise, pending or release)');
    }
  }

  private authorise(storeId: string, terminalId: string, request: AuthoriseRequest): Promise<Reply> {
    return this.exclusive(async () => {
      await this.appendDecision(
        { kind: 'authorise', ...request, storeId, terminalId, nowMs: this.now(), validForMs: this.validForMs },
        STREAM_OF_ACCOUNT(request.bankId),
      );
      const authorisation = this.state.authorisations.get(request.authorizationId)!;
      if (authorisation.status !== 'open') {
        throw new DomainRefusal('not_open', `authorisation ${request.authorizationId} is ${authorisation.status}`);
      }
      return {
        ok: true,
        code: 'authorised',
        message: `${request.amount} yen authorised`,
        authorisation: this.terms(authorisation),
        accountBalance: this.state.accounts.get(request.bankId)?.balance ?? 0,
      };
    });
  }

  private async settle(storeId: string, terminalId: string, request: PendingRequest): Promise<Reply> {
    const none: Reply = {
      ok: true,
      code: 'none',
      message: 'no open authorisation for this card',
    };
    // The answer at almost every insertion, given without waiting for decisions in progress.
    if (openAuthorisationsOf(this.state, request.cardId).length === 0) return none;
    return this.exclusive(async () => {
      const open = openAuthorisationsOf(this.state, request.cardId);
      if (open.length === 0) return none;
      if (!request.logRead)
        return {
          ok: true,
          code: 'log_needed',
          message: `${open.length} open authorisation(s): send the chip's log`,
        };
      const chip = {
        cardCounter: request.cardCounter,
        credits: request.credits.map((c) => ({
          cardCounter: c.cardCounter,
          amount: c.amount,
          terminalId: c.terminalId,
        })),
        logCoversFromCounter: request.logCoversFromCounter,
      };
      const pending: cardsys.v1.PendingLoad.$Properties[] = [];
      for (const authorisation of open) {
        const settlement = settleAtInsertion(authorisation, chip, this.now(), this.marginMs);
        const terms = this.terms(authorisation);
        switch (settlement.action) {
          case 'record': {
            const found = request.credits.find((c) => c.cardCounter === settlement.credit.cardCounter)!;
            await this.appendDecision(
              {
                kind: 'complete',
                authorizationId: authorisation.authorizationId,
                storeId,
                cardCounter: found.cardCounter,
                recovered: true,
              },
              STREAM_OF_ACCOUNT(authorisation.bankId),
            );
            pending.push({
              authorisation: terms,
              action: 'record',
              found: {
                ...found,
                authorizationId: authorisation.authorizationId,
              },
            });
            break;
          }
          case 'credit':
            if (!request.canCredit) {
              pending.push({
                authorisation: { ...terms, mac: new Uint8Array(0) },
                action: 'open',
              });
              break;
            }
            await this.appendDecision(
              { kind: 'hand_over', authorizationId: authorisation.authorizationId, storeId, terminalId, nowMs: this.now() },
              STREAM_OF_ACCOUNT(authorisation.bankId),
            );
            pending.push({ authorisation: terms, action: 'credit' });
            break;
          case 'reverse':
            await this.appendDecision(
              { kind: 'reverse', authorizationId: authorisation.authorizationId, reason: settlement.reason },
              STREAM_OF_ACCOUNT(authorisation.bankId),
            );
            pending.push({ authorisation: { ...terms, mac: new Uint8Array(0) }, action: 'reversed' });
            break;
          case 'open':
            this.logger.warn(`inquiry: authorisation ${authorisation.authorizationId} stays open: ${settlement.why}`);
            pending.push({
              authorisation: { ...terms, mac: new Uint8Array(0) },
              action: 'open',
            });
            break;
        }
      }
      return {
        ok: true,
        code: 'settled',
        message: `${pending.length} authorisation(s) settled`,
        pending,
      };
    });
  }

  private release(storeId: string, authorizationId: string): Promise<Reply> {
    return this.exclusive(async () => {
      const authorisation = this.state.authorisations.get(authorizationId);
      await this.appendDecision({ kind: 'release', authorizationId, storeId }, STREAM_OF_ACCOUNT(authorisation?.bankId ?? ''));
      return {
        ok: true,
        code: 'released',
        message: `authorisation ${authorizationId} given back`,
        accountBalance: this.state.accounts.get(authorisation!.bankId)?.balance ?? 0,
      };
    });
  }

  private answerBlacklistSync(msg: Msg, storeId: string): Uint8Array {
    let reply: cardsys.v1.BlacklistSyncReply.$Properties;
    try {
      const request = decodeOrThrow('BlacklistSyncRequest', () => pb.BlacklistSyncRequest.decode(msg.data));
      const version = this.blacklistState.version;
      reply =
        request.knownVersion === version
          ? { version, unchanged: true }
          : {
              version,
              entries: [...this.blacklistState.entries.values()].map((e) => ({ cardId: e.cardId, reason: e.reason, sinceMs: e.sinceMs })),
            };
      this.options.onBlacklistSync?.(storeId, version);
    } catch (error) {
      this.logger.warn(`inquiry: blacklist sync on ${msg.subject} refused: ${(error as Error).message}`);
      reply = { version: 0, unchanged: true };
    }
    return pb.BlacklistSyncReply.encode(reply).finish();
  }

  /** The terms a store receives, with the credit MAC only the credit master can make. */
  private terms(authorisation: Authorisation): cardsys.v1.LoadAuthorisation.$Properties {
    const mac = authoriseCredit(this.options.issuerKeys, {
      cardId: authorisation.cardId,
      cardCounter: authorisation.cardCounter,
      amount: authorisation.amount,
      authorisationId: authorisation.authorizationId,
    });
    return {
      authorizationId: authorisation.authorizationId,
      cardId: authorisation.cardId,
      amount: authorisation.amount,
      cardCounter: authorisation.cardCounter,
      mac: Buffer.from(mac, 'hex'),
      deadlineMs: authorisation.deadlineMs,
    };
  }

  private async appendDecision(command: InquiryCommand, streamId: string): Promise<void> {
    await this.appendAndFold(decideInquiry(command, this.state), streamId);
  }

  private async appendAndFold(events: NewDomainEvent[], streamId: string): Promise<void> {
    if (events.length === 0) return;
    if (!this.options.writer) throw new NotWriterError('this head-office instance follows: it takes no decisions');
    const sealed = await this.options.writer.append(events.map((event) => ({ event, streamId })));
    for (const { envelope } of sealed) {
      if (this.foldedHq.add(envelope.storeSeq)) this.evolve(decodeEvent(envelope.eventType, envelope.payload), envelope.occurredAtMs);
    }
  }

  private evolve(event: DomainEvent, atMs: number): void {
    evolveInquiry(this.state, event);
    evolveBlacklist(this.blacklistState, event, atMs);
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** A set of sequence numbers kept small: everything up to the first gap is one number. */
class FoldedSequences {
  private upTo = 0;
  private readonly above = new Set<number>();

  /** Adds the sequence; false when it was there already. */
  add(seq: number): boolean {
    if (seq <= this.upTo || this.above.has(seq)) return false;
    this.above.add(seq);
    while (this.above.delete(this.upTo + 1)) this.upTo++;
    return true;
  }
}
