// The blacklist at head office: blacklisting and reinstating cards (appended to `hq`, each change
// published to every store at once), and the whole list for a store that asks. Changes and lists
// carry head office's signature: a store acts on nothing else.
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import {
  decodeOrThrow,
  pb,
  signHeadOfficeMessage,
  subjects,
  type cardsys,
  type NewDomainEvent,
  type SigningKey,
} from '../../contracts/index.js';
import { type BlacklistEntry, type BlacklistState, decideBlacklist, evolveBlacklist, initialBlacklistState } from '../../domain/index.js';
import type { Logger } from '../../infra/index.js';
import { cardStream, type HeadOfficeFacts } from './head-office-facts.js';

export class BlacklistKeeper {
  /** The blacklist folded from head office's facts (card returns read it too). */
  readonly state: BlacklistState = initialBlacklistState();

  constructor(
    private readonly facts: HeadOfficeFacts,
    private readonly options: {
      /** Publishes each change on `cardsys.blacklist.changes`. */
      publisher: NatsConnection;
      /** Head office's key, which signs every change and list; none at a follower, which sends neither. */
      signingKey: SigningKey | undefined;
      logger: Logger;
      now: () => number;
    },
  ) {
    facts.feed((event, envelope) => evolveBlacklist(this.state, event, envelope.occurredAtMs));
  }

  get version(): number {
    return this.state.version;
  }

  entry(cardId: string): BlacklistEntry | undefined {
    return this.state.entries.get(cardId);
  }

  /** Blacklists or reinstates a card, and tells every store at once. Refusals are DomainRefusal. */
  change(kind: 'blacklist' | 'reinstate', cardId: string, reason: string): Promise<{ version: number }> {
    return this.facts.exclusive(async () => {
      const events = decideBlacklist({ kind, cardId, reason, nowMs: this.options.now() }, this.state);
      await this.facts.appendAndFold(events, cardStream(cardId));
      this.publish(cardId, kind === 'blacklist', reason);
      return { version: this.state.version };
    });
  }

  /**
   * Records a report of a lost card (`report` decides it, in turn with every other decision) and
   * blacklists the card in the same append, unless it is listed already; stores are told at once.
   */
  reportLost(cardId: string, reason: string, report: () => NewDomainEvent[]): Promise<{ version: number }> {
    return this.facts.exclusive(async () => {
      const events = report();
      const listed = this.state.entries.has(cardId);
      if (!listed) events.push(...decideBlacklist({ kind: 'blacklist', cardId, reason, nowMs: this.options.now() }, this.state));
      await this.facts.appendAndFold(events, cardStream(cardId));
      if (!listed) this.publish(cardId, true, reason);
      return { version: this.state.version };
    });
  }

  private publish(cardId: string, blacklisted: boolean, reason: string): void {
    const change = this.signed('BlacklistChange', {
      version: this.state.version,
      cardId,
      blacklisted,
      reason: reason.trim(),
      atMs: this.options.now(),
    });
    this.options.publisher.publish(subjects.blacklistChanges, pb.BlacklistChange.encode(change).finish());
  }

  private signed<T extends object>(type: 'BlacklistChange' | 'BlacklistSyncReply', message: T): T {
    if (!this.options.signingKey) throw new Error('this head-office instance holds no signing key: it sends stores nothing');
    return signHeadOfficeMessage(type, this.options.signingKey, message);
  }

  /** Answers one request on `cardsys.hq.blacklist.<storeId>`: unchanged, or the whole list. */
  answer(msg: Msg): Uint8Array {
    let reply: cardsys.v1.BlacklistSyncReply.$Properties;
    try {
      const request = decodeOrThrow('BlacklistSyncRequest', () => pb.BlacklistSyncRequest.decode(msg.data));
      const version = this.state.version;
      reply =
        request.knownVersion === version
          ? { version, unchanged: true }
          : this.signed('BlacklistSyncReply', {
              version,
              entries: [...this.state.entries.values()].map((e) => ({ cardId: e.cardId, reason: e.reason, sinceMs: e.sinceMs })),
            });
    } catch (error) {
      this.options.logger.warn(`inquiry: blacklist sync on ${msg.subject} refused: ${(error as Error).message}`);
      reply = { version: 0, unchanged: true };
    }
    return pb.BlacklistSyncReply.encode(reply).finish();
  }
}
