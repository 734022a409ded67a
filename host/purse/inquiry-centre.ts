// Head office's inquiry centre: load authorisation (`LoadAuthorisations`: authorise, settle,
// release, timeout reversal), refund authorisation (`RefundAuthorisations`), PIN unblocks
// (`PinUnblocks`), card returns (`CardReturns`: the termination MAC, the account credited with the
// unload) and the blacklist (`BlacklistKeeper`: changes and their feed to stores), all
// folded from one reading of head office's facts (`HeadOfficeFacts`: one catch-up subscription of
// the host event store), and the responders that answer stores for them.
import type { Msg, NatsConnection, Subscription as NatsSubscription } from '@nats-io/transport-node';
import { ZodError } from 'zod';
import { ContractError, decodeOrThrow, pb, subjects, type cardsys } from '../../contracts/index.js';
import type { IssuerMasterKeys } from '../../card/index.js';
import {
  type Authorisation,
  type BlacklistEntry,
  DEFAULT_LOAD_LIMITS,
  DEFAULT_REFUND_RULES,
  DomainRefusal,
  type LoadLimits,
  type Refund,
  type RefundRules,
} from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { serveRequests, storeAskingOn, type RefusedRequests } from '../../infra/nats/index.js';
import { BlacklistKeeper } from './blacklist-keeper.js';
import { CardReturns } from './card-returns.js';
import { CardReplacements, type ReplacementView } from './card-replacements.js';
import { HeadOfficeFacts } from './head-office-facts.js';
import { LoadAuthorisations } from './load-authorisations.js';
import { PinUnblocks } from './pin-unblocks.js';
import { RefundAuthorisations } from './refund-authorisations.js';
import {
  AuthoriseRefundRequest,
  AuthoriseRequest,
  PendingRequest,
  PinUnblockRequest,
  ReleaseRefundRequest,
  ReleaseRequest,
  UnloadRequest,
} from './requests.js';

type Reply = cardsys.v1.InquiryReply.$Properties;

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
  /** The balance cap and the daily load limit of every load (default DEFAULT_LOAD_LIMITS). */
  loadLimits?: LoadLimits;
  /** The refund window (default DEFAULT_REFUND_RULES: the pay's business day). */
  refundRules?: RefundRules;
  /** How often open authorisations are checked for a timeout reversal; 0 turns the timer off. */
  sweepEveryMs?: number;
  now?: () => number;
}

export class InquiryCentre {
  private readonly natsSubscriptions: NatsSubscription[] = [];
  private sweepTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly loads: LoadAuthorisations,
    private readonly refunds: RefundAuthorisations,
    private readonly pinUnblocks: PinUnblocks,
    private readonly blacklist: BlacklistKeeper,
    private readonly returns: CardReturns,
    private readonly replacements: CardReplacements,
    private readonly logger: Logger,
  ) {}

  static async start(options: InquiryCentreOptions): Promise<InquiryCentre> {
    const logger = options.logger ?? console;
    const now = options.now ?? Date.now;
    const facts = new HeadOfficeFacts({ store: options.store, writer: options.writer, logger });
    const validForMs = options.validForMs ?? 60_000;
    const loads: LoadAuthorisations = new LoadAuthorisations(facts, {
      issuerKeys: options.issuerKeys,
      logger,
      validForMs,
      marginMs: options.marginMs ?? 5 * 60_000,
      limits: options.loadLimits ?? DEFAULT_LOAD_LIMITS,
      refunds: () => refunds,
      now,
    });
    const refunds = new RefundAuthorisations(facts, {
      issuerKeys: options.issuerKeys,
      logger,
      validForMs,
      rules: options.refundRules ?? DEFAULT_REFUND_RULES,
      openLoadsOf: (cardId) => loads.openLoadsOf(cardId),
      now,
    });
    const blacklist = new BlacklistKeeper(facts, {
      publisher: options.publisher ?? options.nc,
      signingKey: options.writer?.signingKey,
      logger,
      now,
    });
    const centre = new InquiryCentre(
      facts,
      loads,
      refunds,
      new PinUnblocks(facts, { issuerKeys: options.issuerKeys, logger, now }),
      blacklist,
      new CardReturns(facts, loads, blacklist, {
        issuerKeys: options.issuerKeys,
        logger,
        openRefundsOf: (cardId) => refunds.openRefundsOf(cardId),
        now,
      }),
      new CardReplacements(facts, blacklist, { logger, now }),
      logger,
    );
    await facts.catchUp();
    if (!options.writer) return centre;
    centre.listen(options);
    const every = options.sweepEveryMs ?? 5_000;
    if (every > 0)
      centre.sweepTimer = setInterval(
        () => void centre.sweep().catch((e: Error) => logger.error(`inquiry: sweep failed: ${e.message}`)),
        every,
      );
    return centre;
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    for (const subscription of this.natsSubscriptions) subscription.unsubscribe();
    await this.facts.stop();
  }

  /** A copy of one authorisation as head office holds it. */
  authorisation(authorizationId: string): Authorisation | undefined {
    return this.loads.authorisation(authorizationId);
  }

  accountBalance(bankId: string): number | undefined {
    return this.loads.accountBalance(bankId);
  }

  /** A copy of one refund as head office holds it. */
  refund(refundId: string): Refund | undefined {
    return this.refunds.refund(refundId);
  }

  /** Opens a bank account with an opening balance (the bank's side, for set-up and demos). */
  openAccount(bankId: string, balance: number): Promise<void> {
    return this.loads.openAccount(bankId, balance);
  }

  /** Reverses every open authorisation that a timeout alone may reverse; returns how many. */
  sweep(): Promise<number> {
    return this.loads.sweep();
  }

  /** One InquiryRequest from a store (the subject names the store; the request must agree). */
  async inquire(subjectStoreId: string, bytes: Uint8Array): Promise<Reply> {
    const request = decodeOrThrow('InquiryRequest', () => pb.InquiryRequest.decode(bytes));
    if (request.storeId !== subjectStoreId)
      throw new DomainRefusal('bad_request', `request names store "${request.storeId}" on store ${subjectStoreId}'s subject`);
    if (!request.terminalId) throw new DomainRefusal('bad_request', 'terminal_id is required');
    switch (request.kind) {
      case 'authorise':
        return this.loads.authorise(request.storeId, request.terminalId, AuthoriseRequest.parse(request.authorise));
      case 'pending':
        return this.loads.settle(request.storeId, request.terminalId, PendingRequest.parse(request.pending));
      case 'release':
        return this.loads.release(request.storeId, ReleaseRequest.parse(request.release));
      case 'refund':
        return this.refunds.authorise(request.storeId, request.terminalId, AuthoriseRefundRequest.parse(request.refund));
      case 'refundRelease':
        return this.refunds.release(request.storeId, ReleaseRefundRequest.parse(request.refundRelease).refundId);
      case 'pinUnblock':
        return this.pinUnblocks.authorise(request.storeId, request.terminalId, PinUnblockRequest.parse(request.pinUnblock));
      case 'unload':
        return this.returns.authorise(request.storeId, request.terminalId, UnloadRequest.parse(request.unload));
      default:
        throw new DomainRefusal(
          'bad_request',
          'request has no kind (authorise, pending, release, refund, refund_release, pin_unblock or unload)',
        );
    }
  }

  /** Answers one request on `cardsys.hq.auth.<storeId>`: refusals and bad requests are replies too. */
  private async answer(msg: Msg, storeId: string): Promise<Uint8Array> {
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

  get blacklistVersion(): number {
    return this.blacklist.version;
  }

  blacklistEntry(cardId: string): BlacklistEntry | undefined {
    return this.blacklist.entry(cardId);
  }

  /** Blacklists or reinstates a card, and tells every store at once. Refusals are DomainRefusal. */
  changeBlacklist(kind: 'blacklist' | 'reinstate', cardId: string, reason: string): Promise<{ version: number }> {
    return this.blacklist.change(kind, cardId, reason);
  }

  /** Reports a card lost or stolen and blacklists it at once. Refusals are DomainRefusal. */
  reportLost(cardId: string, reportedBy: string, reason: string): Promise<{ version: number }> {
    return this.replacements.reportLost(cardId, reportedBy, reason);
  }

  /** Issues a reported card's replacement with `issue` (primary issuance for the lost card's user) and records it. */
  issueReplacement<T extends { cardId: string }>(oldCardId: string, issue: (userId: string) => Promise<T>): Promise<T> {
    return this.replacements.issueReplacement(oldCardId, issue);
  }

  /** A lost card's replacement as head office holds it (by the lost card's id or the new card's). */
  replacement(cardId: string): ReplacementView | undefined {
    return this.replacements.view(cardId);
  }

  private listen(options: InquiryCentreOptions): void {
    const logger = options.logger ?? console;
    const common = { askerOf: storeAskingOn, logger, ...(options.refused ? { refused: options.refused } : {}) };
    this.natsSubscriptions.push(
      serveRequests(options.nc, {
        ...common,
        service: 'inquiry',
        subject: subjects.inquiryAll,
        answer: (msg, asker) => this.answer(msg, asker.storeId),
      }),
      serveRequests(options.nc, {
        ...common,
        service: 'blacklist sync',
        subject: subjects.blacklistSyncAll,
        answer: (msg, asker) => {
          const reply = this.blacklist.answer(msg);
          options.onBlacklistSync?.(asker.storeId, this.blacklist.version);
          return reply;
        },
      }),
    );
  }
}
