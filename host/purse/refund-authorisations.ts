// Refund authorisation at head office: answers a store's request to refund a pay it took (the
// refund decider says whether it may, and the credit MAC goes back), records the completion its
// log shows, and gives an authorisation back when the card refused the credit.
import { HQ_ORIGIN, type cardsys, type DomainEvent, type EventEnvelope, type NewDomainEvent } from '../../contracts/index.js';
import {
  type CounterClaim,
  decideRefund,
  evolveRefunds,
  initialRefundState,
  openRefundsOf,
  type Refund,
  type RefundCommand,
  type RefundRules,
  type RefundState,
} from '../../domain/index.js';
import { type CreditGranting, creditTerms, grantedAt, stillOpen } from './credit-terms.js';
import type { HeadOfficeFacts } from './head-office-facts.js';
import type { AuthoriseRefundRequest } from './requests.js';

type Reply = cardsys.v1.InquiryReply.$Properties;

export class RefundAuthorisations {
  private readonly state: RefundState = initialRefundState();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly options: CreditGranting & {
      rules: RefundRules;
      /** The card's open loads (a refund and a load are never open at one counter). */
      openLoadsOf: (cardId: string) => CounterClaim[];
    },
  ) {
    facts.feed((event, envelope) => this.evolve(event, envelope));
  }

  /** A copy of one refund as head office holds it. */
  refund(refundId: string): Refund | undefined {
    const found = this.state.refunds.get(refundId);
    return found && { ...found };
  }

  openRefundsOf(cardId: string): CounterClaim[] {
    return openRefundsOf(this.state, cardId);
  }

  authorise(storeId: string, terminalId: string, request: AuthoriseRefundRequest): Promise<Reply> {
    return this.facts.exclusive(async () => {
      // A pay replicated a moment ago may not be folded yet: read to the store's head before refusing it as unknown.
      if (!this.state.pays.has(request.payEventId)) await this.facts.caughtUp();
      await this.appendDecision(
        {
          kind: 'authorise_refund',
          ...request,
          ...grantedAt(storeId, terminalId, this.options),
          rules: this.options.rules,
          openLoads: this.options.openLoadsOf(request.cardId),
        },
        request.cardId,
      );
      const refund = stillOpen(this.state.refunds.get(request.refundId)!, `refund ${request.refundId}`);
      return {
        ok: true,
        code: 'refund_authorised',
        message: `refund of ${refund.amount} yen authorised`,
        authorisation: creditTerms(this.options.issuerKeys, { id: refund.refundId, ...refund }),
      };
    });
  }

  release(storeId: string, refundId: string): Promise<Reply> {
    return this.facts.exclusive(async () => {
      const cardId = this.state.refunds.get(refundId)?.cardId ?? '';
      const events = await this.appendDecision({ kind: 'release_refund', refundId, storeId }, cardId);
      // No event: the refund was given back before (the decider refuses every other case).
      if (events.length === 0)
        return { ok: true, code: 'already_released', message: `refund ${refundId} was already given back: nothing changed` };
      return { ok: true, code: 'released', message: `refund ${refundId} given back: the pay may be refunded again` };
    });
  }

  private evolve(event: DomainEvent, envelope: EventEnvelope): void {
    evolveRefunds(this.state, { event, eventId: envelope.eventId, origin: envelope.storeId, occurredAtMs: envelope.occurredAtMs });
    // Recording a completion is a decision of its own: it waits its turn after the fold.
    if (this.facts.decides && envelope.storeId !== HQ_ORIGIN && event.type === 'PurseRefunded') {
      const refund = this.state.refunds.get(event.data.refundId);
      if (refund?.status !== 'open') return;
      if (refund.storeId !== envelope.storeId) {
        this.options.logger.warn(
          `inquiry: store ${envelope.storeId} recorded refund ${refund.refundId}, which store ${refund.storeId} holds`,
        );
        return;
      }
      const command = {
        kind: 'complete_refund',
        refundId: refund.refundId,
        storeId: envelope.storeId,
        cardCounter: event.data.cardCounter,
        refundedEventId: envelope.eventId,
      } as const;
      void this.facts
        .exclusive(() => this.appendDecision(command, refund.cardId))
        .catch((error: Error) =>
          this.options.logger.error(`inquiry: cannot record completion of refund ${refund.refundId}: ${error.message}`),
        );
    }
  }

  /** Decides on the current state and appends the outcome to the card's stream; returns the events decided. */
  private async appendDecision(command: RefundCommand, cardId: string): Promise<NewDomainEvent[]> {
    const events = decideRefund(command, this.state);
    await this.facts.appendAndFold(events, `card-${cardId}`);
    return events;
  }
}
