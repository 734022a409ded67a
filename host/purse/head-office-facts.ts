// Head office's facts as the purse side needs them: one fold of the host event store (head office's
// own `hq` stream and every store's stream) through one catch-up subscription, feeding every
// concern that keeps state from it (load authorisations, the blacklist).
//
// Decisions run one at a time, whichever concern takes them, and fold their own events at once
// (the subscription passes over them later), so the next decision sees them.
import { HQ_ORIGIN, decodeEvent, type DomainEvent, type EventEnvelope, type NewDomainEvent } from '../../contracts/index.js';
import { type EventStore, type Subscription, domainEventsOf } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { type HqWriter, NotWriterError } from '../hq-writer/index.js';

/** The stream of head office's decisions about one card (the blacklist, PIN unblocks). */
export const cardStream = (cardId: string) => `card-${cardId}`;

/** Takes one event of the fold, with the envelope it came in. */
export type FactFolder = (event: DomainEvent, envelope: EventEnvelope) => void;

export class HeadOfficeFacts {
  /** Which `hq` events are folded: own appends are folded at once, and may come by the subscription too. */
  private readonly foldedHq = new FoldedSequences();
  private readonly folders: FactFolder[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private subscription: Subscription | undefined;
  /** The global position of the last record folded from the event store. */
  private folded: bigint | undefined;

  constructor(
    private readonly options: {
      store: EventStore;
      /** Without one, decisions are refused: the instance only follows. */
      writer?: HqWriter | undefined;
      logger: Logger;
    },
  ) {}

  /** True when this instance holds head office's writer and so may decide. */
  get decides(): boolean {
    return this.options.writer !== undefined;
  }

  /** Adds a concern to the fold; every folder is added before `catchUp`. */
  feed(folder: FactFolder): void {
    this.folders.push(folder);
  }

  /** Reads the event store to its end, then follows it. */
  async catchUp(): Promise<void> {
    let last: bigint | undefined;
    for (;;) {
      const records = await this.options.store.readAll({ after: last, maxCount: 5_000 });
      if (records.length === 0) break;
      this.fold(records);
      last = records[records.length - 1]!.position;
    }
    this.subscription = this.options.store.subscribeToAll({ after: last, handler: (records) => this.fold(records) });
    this.subscription.done.catch((error: Error) => this.options.logger.error(`inquiry: event subscription ended: ${error.message}`));
  }

  /** Resolves once the fold has reached the event store's head as it is now (or after `timeoutMs`). */
  async caughtUp(timeoutMs = 2_000): Promise<void> {
    const head = await this.options.store.headPosition();
    for (const deadline = Date.now() + timeoutMs; head !== undefined && (this.folded ?? -1n) < head && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async stop(): Promise<void> {
    await this.queue.catch(() => undefined);
    await this.subscription?.stop();
  }

  /** Runs a decision after every decision before it. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Appends head office's decided events to `streamId` and folds them at once. */
  async appendAndFold(events: NewDomainEvent[], streamId: string): Promise<void> {
    if (events.length === 0) return;
    if (!this.options.writer) throw new NotWriterError('this head-office instance follows: it takes no decisions');
    const sealed = await this.options.writer.append(events.map((event) => ({ event, streamId })));
    for (const { envelope } of sealed) {
      if (this.foldedHq.add(envelope.storeSeq)) this.evolve(decodeEvent(envelope.eventType, envelope.payload), envelope);
    }
  }

  private fold(records: Parameters<typeof domainEventsOf>[0]): void {
    const last = records.at(-1);
    if (last) this.folded = last.position;
    for (const { envelope, event } of domainEventsOf(records)) {
      if (envelope.storeId === HQ_ORIGIN && !this.foldedHq.add(envelope.storeSeq)) continue;
      this.evolve(event, envelope);
    }
  }

  private evolve(event: DomainEvent, envelope: EventEnvelope): void {
    for (const folder of this.folders) folder(event, envelope);
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
