// PIN unblock at head office: a store asks, for the card in its reader, naming the holder as the
// clerk checked them; head office decides (domain/pin-unblock.ts), records the decision in the
// card's stream, and answers an authorisation with the unblock MAC that only the credit master
// key can make, bound to the card and its PIN reset counter.
import { authorisePinUnblock, type IssuerMasterKeys } from '../../card/index.js';
import type { cardsys } from '../../contracts/index.js';
import { decidePinUnblock, evolvePinUnblock, initialPinUnblockState, type PinUnblockState } from '../../domain/index.js';
import type { Logger } from '../../infra/index.js';
import { cardStream, type HeadOfficeFacts } from './head-office-facts.js';
import type { PinUnblockRequest } from './requests.js';

type Reply = cardsys.v1.InquiryReply.$Properties;

export class PinUnblocks {
  private readonly state: PinUnblockState = initialPinUnblockState();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly options: { issuerKeys: IssuerMasterKeys; logger: Logger; now: () => number },
  ) {
    facts.feed((event, envelope) => evolvePinUnblock(this.state, event, envelope.occurredAtMs));
  }

  /** Decides one request (or answers again the decision taken for its authorisation id). */
  authorise(storeId: string, terminalId: string, request: PinUnblockRequest): Promise<Reply> {
    return this.facts.exclusive(async () => {
      // A card issued a moment ago may not be folded yet: read to the store's head before refusing it as unknown.
      if (!this.state.cardUsers.has(request.cardId)) await this.facts.caughtUp();
      const events = decidePinUnblock(
        { kind: 'authorise_unblock', ...request, storeId, terminalId, nowMs: this.options.now() },
        this.state,
      );
      await this.facts.appendAndFold(events, cardStream(request.cardId));
      const outcome = this.state.outcomes.get(request.authorizationId)!;
      if (!outcome.authorised) {
        this.options.logger.warn(`inquiry: PIN unblock of card ${request.cardId} asked by ${terminalId} refused: ${outcome.code}`);
        return { ok: false, code: outcome.code, message: outcome.message };
      }
      const { authorizationId, cardId } = request;
      const mac = authorisePinUnblock(this.options.issuerKeys, { cardId, pinResets: outcome.pinResets, authorisationId: authorizationId });
      return {
        ok: true,
        code: 'pin_unblock_authorised',
        message: `PIN unblock of card ${cardId} authorised`,
        pinUnblock: { authorizationId, cardId, pinResets: outcome.pinResets, mac: Buffer.from(mac, 'hex') },
      };
    });
  }
}
