// Lost cards at head office: the report (blacklisting the card in the same append), the replacement
// card (primary issuance for the same user), and the transfer of the lost card's balance, decided
// as soon as the stores' replicated logs allow it and corrected when a late movement arrives (see
// domain/card-replacement.ts). The new card takes the balance at its next PIN-verified insertion
// (LoadAuthorisations authorises it from the replacement account).
import { HQ_ORIGIN } from '../../contracts/index.js';
import {
  DomainRefusal,
  decideReplacement,
  evolveReplacement,
  initialReplacementState,
  movedSoFar,
  type ReplacementCommand,
  type ReplacementState,
  replacementStatus,
  storesHoldingBack,
} from '../../domain/index.js';
import type { Logger } from '../../infra/index.js';
import type { BlacklistKeeper } from './blacklist-keeper.js';
import { cardStream, type HeadOfficeFacts } from './head-office-facts.js';

/** What GET /v1/cards/:cardId/replacement shows of a lost card. */
export interface ReplacementView {
  cardId: string;
  userId: string;
  reportedAt: string;
  reportedBy: string;
  reason: string;
  newCardId: string | null;
  /** reported (no new card yet), waiting_for_stores, transferred, adjusted. */
  status: ReturnType<typeof replacementStatus>;
  /** Stores that saw the lost card and have not replicated past the report yet. */
  waitingFor: string[];
  transferred: { amount: number; at: string; oldCardCounter: number; storesWaitedFor: string[] } | null;
  adjustments: Array<{ amount: number; at: string; oldCardCounter: number; storeId: string }>;
  /** The lost card's balance moved so far: the transfer and its corrections. */
  moved: number;
}

export class CardReplacements {
  private readonly state: ReplacementState = initialReplacementState();
  /** Lost cards whose replacement is being issued now: one at a time per card. */
  private readonly issuing = new Set<string>();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly blacklist: BlacklistKeeper,
    private readonly options: { logger: Logger; now: () => number },
  ) {
    facts.feed((event, envelope) => {
      evolveReplacement(this.state, { event, origin: envelope.storeId, atMs: envelope.occurredAtMs });
      // A store's event may free a waiting transfer, or be a late movement of a lost card.
      if (envelope.storeId !== HQ_ORIGIN && facts.decides) this.settleOpen((event.data as { cardId?: string }).cardId);
      else if (event.type === 'CardReplacementIssued' && facts.decides) this.settleLater(event.data.oldCardId);
    });
  }

  /** Reports a card lost and blacklists it at once. Refusals are DomainRefusal. */
  reportLost(cardId: string, reportedBy: string, reason: string): Promise<{ version: number }> {
    return this.blacklist.reportLost(cardId, reason, () =>
      decideReplacement({ kind: 'report_lost', cardId, reportedBy, reason, nowMs: this.options.now() }, this.state),
    );
  }

  /**
   * Issues the replacement of a reported card: `issue` initialises a new card for the lost card's
   * user (primary issuance) and names it; the replacement is then recorded.
   */
  async issueReplacement<T extends { cardId: string }>(oldCardId: string, issue: (userId: string) => Promise<T>): Promise<T> {
    const replacement = this.state.replacements.get(oldCardId);
    if (!replacement) throw new DomainRefusal('not_reported', `card ${oldCardId} is not reported lost`);
    if (replacement.newCardId)
      throw new DomainRefusal('already_replaced', `card ${oldCardId} is already replaced by card ${replacement.newCardId}`);
    if (this.issuing.has(oldCardId)) throw new DomainRefusal('already_replaced', `card ${oldCardId} is being replaced now`);
    this.issuing.add(oldCardId);
    try {
      const issued = await issue(replacement.userId);
      // The new card's CardPrimaryIssued may not be folded yet.
      await this.facts.caughtUp();
      await this.decide({ kind: 'issue_replacement', oldCardId, newCardId: issued.cardId }, oldCardId);
      return issued;
    } finally {
      this.issuing.delete(oldCardId);
    }
  }

  view(cardId: string): ReplacementView | undefined {
    const oldCardId = this.state.replacements.has(cardId) ? cardId : this.state.replacedBy.get(cardId);
    const replacement = oldCardId === undefined ? undefined : this.state.replacements.get(oldCardId);
    if (!replacement) return undefined;
    const iso = (ms: number) => new Date(ms).toISOString();
    const { transferred } = replacement;
    return {
      cardId: replacement.oldCardId,
      userId: replacement.userId,
      reportedAt: iso(replacement.reportedAtMs),
      reportedBy: replacement.reportedBy,
      reason: replacement.reason,
      newCardId: replacement.newCardId ?? null,
      status: replacementStatus(replacement),
      waitingFor: transferred ? [] : storesHoldingBack(this.state, replacement),
      transferred: transferred
        ? {
            amount: transferred.amount,
            at: iso(transferred.atMs),
            oldCardCounter: transferred.cardCounter,
            storesWaitedFor: transferred.storesWaitedFor,
          }
        : null,
      adjustments: replacement.adjustments.map((a) => ({
        amount: a.amount,
        at: iso(a.atMs),
        oldCardCounter: a.cardCounter,
        storeId: a.storeId,
      })),
      moved: movedSoFar(replacement),
    };
  }

  /** Settles what a store's event may move: transfers waiting for stores, and a transferred card's late movement. */
  private settleOpen(cardId: string | undefined): void {
    for (const replacement of this.state.replacements.values()) {
      if (replacement.newCardId && !replacement.transferred && settleable(this.state, replacement.oldCardId))
        this.settleLater(replacement.oldCardId);
    }
    const moved = cardId === undefined ? undefined : this.state.replacements.get(cardId);
    if (moved?.transferred && settleable(this.state, moved.oldCardId)) this.settleLater(moved.oldCardId);
  }

  /** Settling is a decision of its own: it waits its turn after the fold. */
  private settleLater(oldCardId: string): void {
    void this.decide({ kind: 'settle', oldCardId }, oldCardId).catch((error: Error) =>
      this.options.logger.error(`replacement: cannot settle lost card ${oldCardId}: ${error.message}`),
    );
  }

  private decide(command: ReplacementCommand, oldCardId: string): Promise<void> {
    return this.facts.exclusive(async () => {
      // Asked for while head office's history is still being read (a start): decided on all of it, so nothing moves twice.
      await this.facts.caughtUp();
      const events = decideReplacement(command, this.state);
      await this.facts.appendAndFold(events, cardStream(oldCardId));
      for (const { type, data } of events) {
        if (type === 'CardBalanceTransferred')
          this.options.logger.info(`replacement: ${data.amount} yen of lost card ${data.oldCardId} moved to card ${data.newCardId}`);
        if (type === 'CardReplacementAdjusted') this.options.logger.warn(`replacement: ${data.reason}`);
      }
    });
  }
}

/** Whether settling now would decide anything (checked on the fold, without taking a turn). */
function settleable(state: ReplacementState, oldCardId: string): boolean {
  return decideReplacement({ kind: 'settle', oldCardId }, state).length > 0;
}
