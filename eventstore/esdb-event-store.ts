import type * as EsdbClient from '@eventstore/db-client';
import type { AllStreamResolvedEvent, AppendExpectedRevision, EventStoreDBClient, ResolvedEvent } from '@eventstore/db-client';
import { DuplicateEventError, WrongExpectedRevisionError, type EventStore } from './event-store.js';
import type * as port from './event-store.js';
import { withoutPassword } from './server-url.js';

const DEFAULT_BATCH_SIZE = 500;
const READ_CHUNK = 1000;

const isSystem = (event: { type: string; streamId: string }) => event.type.startsWith('$') || event.streamId.startsWith('$');

function toRecord(resolved: ResolvedEvent | AllStreamResolvedEvent): port.StoredRecord | undefined {
  const event = resolved.event;
  if (!event || isSystem(event)) return undefined;
  const position = event.position?.commit ?? resolved.commitPosition;
  if (position === undefined) throw new Error(`EventStoreDB returned event ${event.id} without a position (server older than 22.6?)`);
  const data = event.isJson ? new TextEncoder().encode(JSON.stringify(event.data)) : (event.data as Uint8Array);
  return { id: event.id, type: event.type, data, streamId: event.streamId, revision: event.revision, position };
}

const toEsdbExpected = (expected: port.ExpectedRevision): AppendExpectedRevision =>
  expected === 'any' ? esdb.ANY : expected === 'no_stream' ? esdb.NO_STREAM : expected;

/**
 * The host event store on EventStoreDB / KurrentDB. Positions are $all commit positions.
 * Event ids are the stream's business, as the contract wants: the same id in two streams is
 * stored twice. Within a stream the server recognises a repeated id only as a retry of a recent
 * append (its idempotency window), answered as success without writing it again. A repeat inside
 * one append is refused here; a repeat in a later append of the stream is not refused, short of
 * what the contract asks: there the callers' expected revisions and the ingest's per-origin
 * sequence check are what keep it out.
 */
/** The client library, loaded by the first connect: a process on another store does not load it. */
let esdb: typeof EsdbClient;

export class EsdbEventStore implements EventStore {
  private readonly subscriptions = new Set<port.Subscription>();

  private constructor(
    private readonly client: EventStoreDBClient,
    readonly url: string,
  ) {}

  /** Connects with a connection string such as `esdb://127.0.0.1:2113?tls=false`. */
  static async connect(url: string): Promise<EsdbEventStore> {
    esdb ??= await import('@eventstore/db-client');
    let client: EventStoreDBClient;
    try {
      client = esdb.EventStoreDBClient.connectionString(url);
    } catch (error) {
      throw new Error(`bad EventStoreDB connection string "${withoutPassword(url)}": ${(error as Error).message}`);
    }
    const store = new EsdbEventStore(client, url);
    try {
      await store.headPosition();
    } catch (error) {
      await client.dispose();
      throw new Error(`cannot reach EventStoreDB at ${withoutPassword(url)}: ${(error as Error).message}`);
    }
    return store;
  }

  async appendToStream(streamId: string, records: port.NewRecord[], expected: port.ExpectedRevision = 'any'): Promise<port.AppendResult> {
    if (records.length === 0) throw new Error(`append to stream ${streamId}: no events given`);
    const ids = new Set<string>();
    for (const record of records) {
      if (ids.has(record.id)) throw new DuplicateEventError(streamId, record.id);
      ids.add(record.id);
    }
    try {
      const result = await this.client.appendToStream(
        streamId,
        records.map((record) => esdb.binaryEvent({ id: record.id, type: record.type, data: record.data })),
        { expectedRevision: toEsdbExpected(expected) },
      );
      if (!result.position) throw new Error(`EventStoreDB did not return the position of the append to ${streamId}`);
      return { nextExpectedRevision: result.nextExpectedRevision, lastPosition: result.position.commit };
    } catch (error) {
      if (error instanceof esdb.WrongExpectedVersionError) {
        const actual = typeof error.actualVersion === 'bigint' ? error.actualVersion : undefined;
        throw new WrongExpectedRevisionError(streamId, expected, actual);
      }
      throw error;
    }
  }

  async readStream(streamId: string, options: port.ReadStreamOptions = {}): Promise<port.StoredRecord[]> {
    return this.collectStream(streamId, {
      fromRevision: options.fromRevision ?? esdb.START,
      direction: esdb.FORWARDS,
      ...(options.maxCount === undefined ? {} : { maxCount: options.maxCount }),
    });
  }

  async streamRevision(streamId: string): Promise<bigint | undefined> {
    const [last] = await this.collectStream(streamId, { fromRevision: esdb.END, direction: esdb.BACKWARDS, maxCount: 1 });
    return last?.revision;
  }

  private async collectStream(streamId: string, options: Parameters<EventStoreDBClient['readStream']>[1]): Promise<port.StoredRecord[]> {
    const records: port.StoredRecord[] = [];
    try {
      for await (const resolved of this.client.readStream(streamId, options)) {
        const record = toRecord(resolved);
        if (record) records.push(record);
      }
    } catch (error) {
      if (error instanceof esdb.StreamNotFoundError) return [];
      throw error;
    }
    return records;
  }

  async readAll(options: port.ReadAllOptions = {}): Promise<port.StoredRecord[]> {
    const wanted = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const records: port.StoredRecord[] = [];
    let from = options.after;
    // System events are filtered out here, so read in chunks until enough user events are found.
    for (;;) {
      let seen = 0;
      for await (const resolved of this.client.readAll({
        fromPosition: from === undefined ? esdb.START : { commit: from, prepare: from },
        maxCount: READ_CHUNK,
        direction: esdb.FORWARDS,
      })) {
        seen++;
        const commit = resolved.event?.position.commit;
        if (commit === undefined || (from !== undefined && commit <= from)) continue;
        from = commit;
        const record = toRecord(resolved);
        if (record) records.push(record);
        if (records.length >= wanted) return records;
      }
      if (seen < READ_CHUNK) return records;
    }
  }

  async headPosition(): Promise<bigint | undefined> {
    let from: typeof esdb.END | { commit: bigint; prepare: bigint } = esdb.END;
    for (;;) {
      let seen = 0;
      const page: AsyncIterable<AllStreamResolvedEvent> = this.client.readAll({
        fromPosition: from,
        maxCount: READ_CHUNK,
        direction: esdb.BACKWARDS,
      });
      for await (const resolved of page) {
        seen++;
        const event: AllStreamResolvedEvent['event'] = resolved.event;
        if (!event) continue;
        if (!isSystem(event)) return event.position.commit;
        from = event.position;
      }
      if (seen < READ_CHUNK) return undefined;
    }
  }

  subscribeToAll(options: port.SubscribeOptions): port.Subscription {
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const source = this.client.subscribeToAll({
      fromPosition: options.after === undefined ? esdb.START : { commit: options.after, prepare: options.after },
      filter: esdb.excludeSystemEvents(),
    });
    const buffer: port.StoredRecord[] = [];
    let draining: Promise<void> | undefined;
    let finish!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      finish = (error) => (error === undefined ? resolve() : reject(error));
    });
    done.catch(() => undefined);
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      void source.unsubscribe().catch(() => undefined);
      finish(error);
    };
    const drain = async () => {
      try {
        while (buffer.length > 0 && !ended) {
          await options.handler(buffer.splice(0, batchSize));
          if (buffer.length < batchSize && source.isPaused()) source.resume();
        }
      } catch (error) {
        end(error);
      } finally {
        draining = undefined;
      }
    };
    source.on('data', (resolved: AllStreamResolvedEvent) => {
      const record = toRecord(resolved);
      // The subscription starts at the checkpoint itself: skip it.
      if (!record || (options.after !== undefined && record.position <= options.after)) return;
      buffer.push(record);
      if (buffer.length >= batchSize) source.pause();
      draining ??= drain();
    });
    source.on('error', (error: Error) => end(error));
    source.on('end', () => end());
    const subscription: port.Subscription = {
      done,
      async stop() {
        end();
        await draining;
      },
    };
    this.subscriptions.add(subscription);
    void done.catch(() => undefined).finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    await this.client.dispose();
  }
}
