// Head office's decisions on applications and primary issuance. It folds the `hq` stream into the
// deciders' state at start and then keeps it current with its own appends; one decision at a time,
// so two applications for the same bank account can never both pass.
import { HQ_ORIGIN, decodeEvent, encodeEvent, type DomainEvent, type NewDomainEvent } from '../../contracts/index.js';
import { foldEvents } from '../../domain/index.js';
import { applicationDecider, type ApplicationInput, type ApplicationState } from '../../domain/index.js';
import { primaryIssuanceDecider, type IssuePrimaryCard, type PrimaryIssuanceState } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { originStreamName, domainEventsOf } from '../../eventstore/index.js';
import { bankIdDigits } from '../../card/index.js';

export interface RegisteredUser {
  userId: string;
  applicationId: string;
  bankId: string;
  eventId: string;
}

/** A card about to be written at primary issuance. */
export interface PrimaryCard {
  cardId: string;
  userId: string;
  bankId: string;
  /** YYYY-MM-DD, the card's last valid day. */
  expiry: string;
  keyVersion: number;
}
export type PrimaryIssuedCard = PrimaryCard & { eventId: string };

const READ_PAGE = 1000;

export class IssuanceOffice {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly writer: HqWriter,
    private applications: ApplicationState,
    private cards: PrimaryIssuanceState,
  ) {}

  static async open(options: { store: EventStore; writer: HqWriter }): Promise<IssuanceOffice> {
    const events: DomainEvent[] = [];
    for (let from = 0n; ; ) {
      const records = await options.store.readStream(originStreamName(HQ_ORIGIN), { fromRevision: from, maxCount: READ_PAGE });
      events.push(...domainEventsOf(records, new Set(['UserRegistered', 'CardPrimaryIssued'])).map((fed) => fed.event));
      if (records.length < READ_PAGE) break;
      from = records[records.length - 1]!.revision + 1n;
    }
    return new IssuanceOffice(options.writer, foldEvents(applicationDecider, events), foldEvents(primaryIssuanceDecider, events));
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private remember(appended: NewDomainEvent): void {
    const event: DomainEvent = decodeEvent(appended.type, encodeEvent(appended));
    this.applications = applicationDecider.evolve(this.applications, event);
    this.cards = primaryIssuanceDecider.evolve(this.cards, event);
  }

  /** Registers the applicant as a user; DuplicateApplicationError when the bank account already has one. */
  submitApplication(input: ApplicationInput, ids: { userId: string; applicationId: string }): Promise<RegisteredUser> {
    return this.exclusive(async () => {
      const [event] = applicationDecider.decide({ ...ids, input }, this.applications);
      const [sealed] = await this.writer.append([{ event: event!, streamId: `user-${ids.userId}` }]);
      this.remember(event!);
      return { userId: ids.userId, applicationId: ids.applicationId, bankId: bankIdDigits(input.bank), eventId: sealed!.envelope.eventId };
    });
  }

  /** The registered user's bank ID, or undefined. */
  bankIdDigits(userId: string): string | undefined {
    return this.cards.bankIdByUser.get(userId);
  }

  /**
   * Primary issuance: decides (UnknownUserError, CardIdTakenError), lets `initialise` write the
   * card and its stripe, and only then records CardPrimaryIssued. A card that could not be written
   * is not recorded.
   */
  issuePrimaryCard(command: IssuePrimaryCard, initialise: (card: PrimaryCard) => Promise<void>): Promise<PrimaryIssuedCard> {
    return this.exclusive(async () => {
      const [event] = primaryIssuanceDecider.decide(command, this.cards);
      const data = event!.data as PrimaryCard;
      await initialise(data);
      const [sealed] = await this.writer.append([{ event: event!, streamId: `card-${data.cardId}` }]);
      this.remember(event!);
      return { ...data, eventId: sealed!.envelope.eventId };
    });
  }
}
