// Card return at head office: answers a store's request to terminate a card (checked against head
// office's shadow of the card, the termination MAC in the answer), and once the store's log shows
// the chip's unload, its card MAC verified, credits the customer's account and closes the card. A
// card reported lost that a store captured is closed as lost, nothing credited.
import { authoriseTermination, terminalIdBytes, toHex, verifyCardMac, type IssuerMasterKeys } from '../../card/index.js';
import { HQ_ORIGIN, type DomainEvent, type EventEnvelope } from '../../contracts/index.js';
import {
  type CardReturnCommand,
  type CardReturnState,
  type CounterClaim,
  claimRefused,
  decideCardReturn,
  evolveReturns,
  initialReturnsState,
  unloadAt,
  yen,
} from '../../domain/index.js';
import type { Logger } from '../../infra/index.js';
import type { BlacklistKeeper } from './blacklist-keeper.js';
import type { HeadOfficeFacts } from './head-office-facts.js';
import { STREAM_OF_ACCOUNT, type LoadAuthorisations, type Reply } from './load-authorisations.js';
import { chipViewOf, type UnloadRequest } from './requests.js';

type Unloaded = Extract<DomainEvent, { type: 'PurseUnloaded' }>['data'];

export class CardReturns {
  private readonly returns = initialReturnsState();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly loads: LoadAuthorisations,
    private readonly blacklist: BlacklistKeeper,
    private readonly options: {
      issuerKeys: IssuerMasterKeys;
      logger: Logger;
      /** The card's open refunds: no return while a credit of the card is being settled. */
      openRefundsOf: (cardId: string) => CounterClaim[];
      now: () => number;
    },
  ) {
    facts.feed((event, envelope) => this.evolve(event, envelope));
  }

  private get state(): CardReturnState {
    return { inquiry: this.loads.state, blacklist: this.blacklist.state, returns: this.returns };
  }

  /** A store asks to terminate a card whose holder hands it back. */
  authorise(storeId: string, terminalId: string, request: UnloadRequest): Promise<Reply> {
    return this.facts.exclusive(async () => {
      // The store's latest movements of the card may be in the event store and not folded yet.
      await this.facts.caughtUp();
      const { cardId, bankId, cardCounter } = request;
      const chip = chipViewOf(storeId, request.chip ?? { cardCounter, credits: [], debits: [], logCoversFromCounter: 0 });
      const forged = await this.loads.refuseForged(chip, cardId, bankId);
      if (forged) return forged;
      await this.decide(
        {
          kind: 'authorise_unload',
          ...request,
          chip,
          openRefunds: this.options.openRefundsOf(cardId),
          storeId,
          terminalId,
          nowMs: this.options.now(),
        },
        bankId,
      );
      const authorisation = unloadAt(this.returns, cardId, cardCounter)!;
      return {
        ok: true,
        code: 'authorised',
        message: authorisation.lostCard
          ? `card ${cardId} was reported lost: terminate it, nothing goes back to the bank account`
          : `return of card ${cardId} authorised: ${yen(authorisation.amount)} back to the bank account`,
        unload: {
          authorizationId: authorisation.authorizationId,
          cardId,
          amount: authorisation.amount,
          cardCounter,
          terminationMac: Buffer.from(authoriseTermination(this.options.issuerKeys, { cardId, cardCounter }), 'hex'),
        },
      };
    });
  }

  private evolve(event: DomainEvent, envelope: EventEnvelope): void {
    evolveReturns(this.returns, event);
    // Crediting the account is a decision of its own: it waits its turn after the fold.
    if (envelope.storeId !== HQ_ORIGIN && this.facts.decides && event.type === 'PurseUnloaded')
      void this.recordUnload(envelope.storeId, event.data);
  }

  private recordUnload(storeId: string, unloaded: Unloaded): Promise<void> {
    const { cardId, cardCounter, amount } = unloaded;
    return this.facts
      .exclusive(async () => {
        const bankId = this.loads.state.cardAccounts.get(cardId) ?? '';
        if (!this.unloadMacValid(unloaded)) {
          const reason = `store ${storeId} recorded an unload of card ${cardId} at counter ${cardCounter} whose card MAC fails: nothing was credited`;
          this.options.logger.warn(`inquiry: ${reason}`);
          await this.facts.appendAndFold(
            [claimRefused({ authorizationId: '', cardId }, storeId, 'forged_log', reason)],
            STREAM_OF_ACCOUNT(bankId),
          );
          return;
        }
        await this.decide(
          { kind: 'record_unload', cardId, authorizationId: unloaded.authorizationId, amount, cardCounter, storeId },
          bankId,
        );
      })
      .catch((error: Error) => this.options.logger.error(`inquiry: cannot credit the unload of card ${cardId}: ${error.message}`));
  }

  private unloadMacValid(unloaded: Unloaded): boolean {
    try {
      return verifyCardMac(this.options.issuerKeys, {
        operation: 'unload',
        cardId: unloaded.cardId,
        counter: unloaded.cardCounter,
        amount: unloaded.amount,
        newBalance: 0,
        terminalId: toHex(terminalIdBytes(unloaded.terminalId)),
        mac: toHex(unloaded.cardMac),
      });
    } catch {
      return false;
    }
  }

  private async decide(command: CardReturnCommand, bankId: string): Promise<void> {
    const events = decideCardReturn(command, this.state);
    await this.facts.appendAndFold(events, STREAM_OF_ACCOUNT(bankId));
  }
}
