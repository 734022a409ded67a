// Load authorisation at head office: answers stores' authorisation requests (debiting the bank
// account and returning the credit MAC), settles open authorisations when their card turns up,
// records completions the stores' logs show, and reverses authorisations when that is safe.
import { HQ_ORIGIN, type cardsys, type DomainEvent, type EventEnvelope, type NewDomainEvent } from '../../contracts/index.js';
import { newAuthorisationId } from '../../card/index.js';
import {
  type Authorisation,
  type CounterClaim,
  decideInquiry,
  evolveInquiry,
  type InquiryCommand,
  type InquiryState,
  initialInquiryState,
  type LoadLimits,
  openAuthorisationsOf,
  claimRefused,
  REPLACEMENT_ACCOUNT,
  forgedRecords,
  type ChipView,
  settleAtInsertion,
  timeoutReversible,
} from '../../domain/index.js';
import type { HeadOfficeFacts } from './head-office-facts.js';
import { type CreditGranting, creditTerms, grantedAt, stillOpen } from './credit-terms.js';
import type { RefundAuthorisations } from './refund-authorisations.js';
import { type AuthoriseRequest, type PendingRequest, type ReleaseRequest, chipViewOf } from './requests.js';

export type Reply = cardsys.v1.InquiryReply.$Properties;

interface Completion {
  authorizationId: string;
  storeId: string;
  cardCounter: number;
  recovered: boolean;
}

export const STREAM_OF_ACCOUNT = (bankId: string) => `account-${bankId}`;

export class LoadAuthorisations {
  /** Head office's accounts, cards and authorisations, folded from its facts (card returns read it too). */
  readonly state: InquiryState = initialInquiryState();
  /** Per store: the latest occurred-at of its events in the host event store. */
  private readonly storeLogReached = new Map<string, number>();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly options: CreditGranting & {
      /** Added to a deadline before head office acts on it alone (clock skew, credits in flight). */
      marginMs: number;
      /** The balance cap and the daily load limit every authorisation is held to. */
      limits: LoadLimits;
      /** Refunds (a credit of the card too): their requests come on the same subject, and their open counters are busy for loads. */
      refunds: () => RefundAuthorisations;
    },
  ) {
    facts.feed((event, envelope) => this.evolve(event, envelope));
  }

  /** A copy of one authorisation as head office holds it. */
  authorisation(authorizationId: string): Authorisation | undefined {
    const found = this.state.authorisations.get(authorizationId);
    return found && { ...found, holders: [...found.holders] };
  }

  accountBalance(bankId: string): number | undefined {
    return this.state.accounts.get(bankId)?.balance;
  }

  /** The card's open load authorisations, as counters they hold. */
  openLoadsOf(cardId: string): CounterClaim[] {
    return openAuthorisationsOf(this.state, cardId).map((a) => ({ id: a.authorizationId, cardCounter: a.cardCounter }));
  }

  /** Opens a bank account with an opening balance (the bank's side, for set-up and demos). */
  openAccount(bankId: string, balance: number): Promise<void> {
    return this.facts.exclusive(() => this.appendDecision({ kind: 'open_account', bankId, balance }, bankId));
  }

  /** Reverses every open authorisation that a timeout alone may reverse; returns how many. */
  sweep(): Promise<number> {
    return this.facts.exclusive(async () => {
      const now = this.options.now();
      let reversed = 0;
      for (const authorisation of [...this.state.authorisations.values()]) {
        if (!timeoutReversible(authorisation, now, this.options.marginMs, (storeId) => this.storeLogReached.get(storeId))) continue;
        await this.appendDecision(
          { kind: 'reverse', authorizationId: authorisation.authorizationId, reason: 'timeout' },
          authorisation.bankId,
        );
        this.options.logger.info(
          `inquiry: authorisation ${authorisation.authorizationId} reversed after its deadline; ${authorisation.amount} yen back to ${authorisation.bankId}`,
        );
        reversed++;
      }
      return reversed;
    });
  }

  private evolve(event: DomainEvent, envelope: EventEnvelope): void {
    evolveInquiry(this.state, event);
    if (envelope.storeId === HQ_ORIGIN) return;
    const { storeId, occurredAtMs } = envelope;
    this.storeLogReached.set(storeId, Math.max(this.storeLogReached.get(storeId) ?? 0, occurredAtMs));
    // Recording a completion is a decision of its own: it waits its turn after the fold.
    if (
      this.facts.decides &&
      event.type === 'PurseLoaded' &&
      this.state.authorisations.get(event.data.authorizationId)?.status === 'open'
    ) {
      const { authorizationId, cardCounter, recovered } = event.data;
      void this.complete({ authorizationId, storeId, cardCounter, recovered });
    }
  }

  private complete(completion: Completion): Promise<void> {
    return this.facts
      .exclusive(async () => {
        const authorisation = this.state.authorisations.get(completion.authorizationId);
        if (!authorisation) return;
        await this.appendDecision({ kind: 'complete', ...completion }, authorisation.bankId);
      })
      .catch((error: Error) =>
        this.options.logger.error(`inquiry: cannot record completion of ${completion.authorizationId}: ${error.message}`),
      );
  }

  /** Debits the account and authorises a credit of the card at its counter (the same answer for the same id). */
  authorise(storeId: string, terminalId: string, request: AuthoriseRequest): Promise<Reply> {
    return this.facts.exclusive(async () => {
      // A card issued a moment ago may not be folded yet: read to the store's head before refusing it as unknown.
      if (!this.state.cardAccounts.has(request.cardId)) await this.facts.caughtUp();
      await this.appendDecision(
        {
          kind: 'authorise',
          ...request,
          ...grantedAt(storeId, terminalId, this.options),
          limits: this.options.limits,
          openRefunds: this.options.refunds().openRefundsOf(request.cardId),
        },
        request.bankId,
      );
      const authorisation = stillOpen(this.state.authorisations.get(request.authorizationId)!, `authorisation ${request.authorizationId}`);
      return {
        ok: true,
        code: 'authorised',
        message: `${request.amount} yen authorised`,
        authorisation: this.terms(authorisation),
        accountBalance: this.state.accounts.get(request.bankId)?.balance ?? 0,
      };
    });
  }

  /** At a card's insertion: what becomes of its open authorisations, given what the chip shows. */
  async settle(storeId: string, terminalId: string, request: PendingRequest): Promise<Reply> {
    const none: Reply = {
      ok: true,
      code: 'none',
      message: 'no open authorisation for this card',
    };
    // The answer at almost every insertion, given without waiting for decisions in progress.
    if (openAuthorisationsOf(this.state, request.cardId).length === 0 && !this.replacementDue(request.cardId)) return none;
    return this.facts.exclusive(async () => {
      let open = openAuthorisationsOf(this.state, request.cardId);
      const due = this.replacementDue(request.cardId);
      if (open.length === 0 && !due) return none;
      if (!request.logRead)
        return {
          ok: true,
          code: 'log_needed',
          message: due
            ? "a lost card's balance waits for this card: send the chip's log"
            : `${open.length} open authorisation(s): send the chip's log`,
        };
      const chip = chipViewOf(storeId, request);
      const forged = await this.refuseForged(chip, request.cardId, open[0]?.bankId ?? REPLACEMENT_ACCOUNT);
      if (forged) return forged;
      // A replacement card takes its lost card's balance where it can be credited now: bound to the chip's counter.
      if (due && request.canCredit && !open.some((a) => a.cardCounter === chip.cardCounter)) {
        await this.appendDecision(
          {
            kind: 'authorise_replacement',
            authorizationId: newAuthorisationId(),
            cardId: request.cardId,
            cardCounter: chip.cardCounter,
            ...grantedAt(storeId, terminalId, this.options),
          },
          REPLACEMENT_ACCOUNT,
        );
        open = openAuthorisationsOf(this.state, request.cardId);
      }
      const pending: cardsys.v1.PendingLoad.$Properties[] = [];
      for (const authorisation of open) {
        const settlement = settleAtInsertion(authorisation, chip, this.options.now(), this.options.marginMs);
        const terms = this.terms(authorisation);
        const { authorizationId, bankId } = authorisation;
        switch (settlement.action) {
          case 'record': {
            const found = request.credits.find((c) => c.cardCounter === settlement.credit.cardCounter)!;
            await this.appendDecision(
              { kind: 'complete', authorizationId, storeId, cardCounter: found.cardCounter, recovered: true },
              bankId,
            );
            pending.push({ authorisation: terms, action: 'record', found: { ...found, authorizationId } });
            break;
          }
          case 'credit':
            if (!request.canCredit) {
              pending.push({ authorisation: { ...terms, mac: new Uint8Array(0) }, action: 'open' });
              break;
            }
            await this.appendDecision({ kind: 'hand_over', authorizationId, storeId, terminalId, nowMs: this.options.now() }, bankId);
            pending.push({ authorisation: terms, action: 'credit' });
            break;
          case 'reverse':
            await this.appendDecision({ kind: 'reverse', authorizationId, reason: settlement.reason }, bankId);
            pending.push({ authorisation: { ...terms, mac: new Uint8Array(0) }, action: 'reversed' });
            break;
          case 'refuse':
            await this.refuseClaim(claimRefused(authorisation, storeId, 'card_moved_on', settlement.why), bankId);
            pending.push({ authorisation: { ...terms, mac: new Uint8Array(0) }, action: 'open' });
            break;
          case 'open':
            this.options.logger.warn(`inquiry: authorisation ${authorizationId} stays open: ${settlement.why}`);
            pending.push({ authorisation: { ...terms, mac: new Uint8Array(0) }, action: 'open' });
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

  /** The store gives an authorisation back: the credit was never sent (or the chip's log shows it was not made). */
  release(storeId: string, request: ReleaseRequest): Promise<Reply> {
    const { authorizationId } = request;
    return this.facts.exclusive(async () => {
      const authorisation = this.state.authorisations.get(authorizationId);
      const bankId = authorisation?.bankId ?? '';
      const chip = request.chip ? chipViewOf(storeId, request.chip) : undefined;
      if (chip && authorisation) {
        const forged = await this.refuseForged(chip, authorisation.cardId, bankId);
        if (forged) return forged;
      }
      const events = decideInquiry({ kind: 'release', authorizationId, storeId, chip }, this.state);
      const refused = events.find((event) => event.type === 'StoreClaimRefused');
      if (refused) {
        await this.refuseClaim(refused, bankId);
        return { ok: false, code: 'release_refused', message: refused.data.reason };
      }
      await this.facts.appendAndFold(events, STREAM_OF_ACCOUNT(bankId));
      return {
        ok: true,
        code: 'released',
        message: `authorisation ${authorizationId} given back`,
        accountBalance: this.state.accounts.get(bankId)?.balance ?? 0,
      };
    });
  }

  /**
   * A chip log with a record whose card MAC fails is a forged log (or a forged card): nothing in it
   * is acted on, the refusal is recorded and alerted, and the store is told.
   */
  async refuseForged(chip: ChipView, cardId: string, bankId: string): Promise<Reply | undefined> {
    const forged = forgedRecords(this.options.issuerKeys, cardId, chip.records);
    if (forged.length === 0) return undefined;
    const counters = forged.map((record) => record.cardCounter).join(', ');
    const reason = `store ${chip.storeId} sent a usage log of card ${cardId} whose card MAC fails at counter(s) ${counters}`;
    await this.refuseClaim(claimRefused({ authorizationId: '', cardId }, chip.storeId, 'forged_log', reason), bankId);
    return { ok: false, code: 'forged_log', message: `${reason}: nothing was settled` };
  }

  /** Records head office's refusal of a store's claim (the purse ledger raises it as an alert naming the store). */
  private async refuseClaim(event: NewDomainEvent, bankId: string): Promise<void> {
    this.options.logger.warn(`inquiry: claim refused: ${(event.data as { reason: string }).reason}`);
    await this.facts.appendAndFold([event], STREAM_OF_ACCOUNT(bankId));
  }

  /** The terms a store receives, with the credit MAC only the credit master can make. */
  private terms(authorisation: Authorisation): cardsys.v1.LoadAuthorisation.$Properties {
    return creditTerms(this.options.issuerKeys, { id: authorisation.authorizationId, ...authorisation });
  }

  /** Whether some of a lost card's balance waits to be authorised onto this (replacement) card. */
  private replacementDue(cardId: string): boolean {
    return (this.state.replacementDue.get(cardId) ?? 0) > 0;
  }

  /** Decides on the current state and appends the outcome to the account's stream. */
  private appendDecision(command: InquiryCommand, bankId: string): Promise<void> {
    return this.facts.appendAndFold(decideInquiry(command, this.state), STREAM_OF_ACCOUNT(bankId));
  }
}
