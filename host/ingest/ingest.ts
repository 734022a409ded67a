// Host ingest: takes the stores' batches from JetStream, checks them, appends them to the host
// event store with expected revisions, and only then confirms to each store (StoreAck) and acks
// the JetStream messages.
import type { NatsConnection } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JsMsg } from '@nats-io/jetstream';
import { EVENTS_STREAM, pb, subjects, INGEST_CONSUMER } from '../../contracts/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import {
  ensureStream,
  jetstreamManagerWhenReady,
  serveRequests,
  storeAskingOn,
  streamReplicas,
  type RefusedRequests,
} from '../../infra/nats/index.js';
import type { StoreKeys } from './batch-check.js';
import { type BatchRefusal, checkRound, CommittedTails, commitRound, type RoundParts, type StoredBatches } from './round.js';

export interface IngestOptions {
  /** Reads the consumer and publishes acks. */
  nc: NatsConnection;
  /** Answers stores' sync requests; `nc` when omitted. */
  responder?: NatsConnection;
  /** Where refused sync requests are counted. */
  refused?: RefusedRequests;
  store: EventStore;
  storeKeys: StoreKeys;
  logger?: Logger;
  /** Durable consumer name; one per head office. */
  consumerName?: string;
  /** How long JetStream waits for an ack before redelivering a message. */
  ackWaitMs?: number;
  /** Told of every refused batch, e.g. to record it where the store's sync view shows it. */
  onRefusal?: (refusal: BatchRefusal) => void;
  /** Told each time a store is heard from (a sync request, a batch): what the console's liveness shows. */
  onContact?: (storeId: string) => void;
  /** Told of what each store's part of a round stored and confirmed (the metrics). */
  onStored?: (stored: StoredBatches) => void;
  /** Most JetStream messages folded into one round of event-store appends. */
  maxMessagesPerRound?: number;
}

export interface Ingest {
  stop(): Promise<void>;
}

/** How long one pull request for the stores' batches lasts before the next (the client's default is 30 s). */
const PULL_EXPIRES_MS = 5_000;

/** How long JetStream remembers a Nats-Msg-Id; older re-sends are caught by the host's own dedupe. */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Creates the CARDSYS_EVENTS stream if missing (three copies on a clustered hub). Head office owns it; edges only publish. */
export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  await ensureStream(await jetstreamManagerWhenReady(nc), {
    name: EVENTS_STREAM,
    subjects: [subjects.eventsAll],
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: streamReplicas(nc),
  });
}

/** Creates the durable consumer, or updates the settings a running one may change. */
async function ensureIngestConsumer(nc: NatsConnection, consumerName: string, ackWaitMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    durable_name: consumerName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(ackWaitMs),
    max_ack_pending: 1024,
    filter_subject: subjects.eventsAll,
  };
  try {
    await jsm.consumers.add(EVENTS_STREAM, config);
  } catch {
    await jsm.consumers.update(EVENTS_STREAM, consumerName, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
  }
}

/** Answers each store's "where does head office stand?" from the committed tails. */
function serveSync(options: IngestOptions, tails: CommittedTails, consumerName: string, logger: Logger) {
  return serveRequests(options.responder ?? options.nc, {
    service: 'ingest sync',
    subject: subjects.sync('*'),
    queue: consumerName,
    askerOf: storeAskingOn,
    answer: async (_msg, { storeId }) => {
      options.onContact?.(storeId);
      return pb.StoreAck.encode({ storeId, confirmedSeq: (await tails.of(storeId)).lastSeq }).finish();
    },
    logger,
    ...(options.refused ? { refused: options.refused } : {}),
  });
}

/**
 * Takes delivered messages in rounds of at most `maxPerRound`, one round at a time; a round that
 * fails goes back for redelivery.
 */
async function consumeInRounds(
  nc: NatsConnection,
  consumerName: string,
  maxPerRound: number,
  logger: Logger,
  processRound: (messages: JsMsg[]) => Promise<void>,
): Promise<{ stop(): Promise<void> }> {
  const consumer = await jetstream(nc).consumers.get(EVENTS_STREAM, consumerName);
  // Short pulls: a pull whose consumer leader went away (a hub node down, a cluster without quorum)
  // is noticed by its missing heartbeats after about one expiry, and pulled again from the new one.
  const delivered = await consumer.consume({ max_messages: 512, expires: PULL_EXPIRES_MS });
  const queue: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  void (async () => {
    for await (const msg of delivered) {
      queue.push(msg);
      wake?.();
    }
    ended = true;
    wake?.();
  })();

  const loop = (async () => {
    while (!ended) {
      if (queue.length === 0) {
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        continue;
      }
      const round = queue.splice(0, maxPerRound);
      try {
        await processRound(round);
      } catch (error) {
        logger.error(`ingest: round of ${round.length} messages failed, they go back for redelivery: ${(error as Error).message}`);
        for (const msg of round) msg.nak(500);
      }
    }
  })();

  return {
    async stop() {
      await delivered.close();
      ended = true;
      wake?.();
      await loop;
    },
  };
}

export async function startIngest(options: IngestOptions): Promise<Ingest> {
  const { nc, store } = options;
  const logger = options.logger ?? console;
  const consumerName = options.consumerName ?? INGEST_CONSUMER;
  await ensureEventsStream(nc);
  await ensureIngestConsumer(nc, consumerName, options.ackWaitMs ?? 10_000);

  const tails = new CommittedTails(store);
  const parts: RoundParts = {
    store,
    tails,
    storeKeys: options.storeKeys,
    logger,
    publishAck: (ack) => nc.publish(subjects.ack(ack.storeId), pb.StoreAck.encode(ack).finish()),
    onRefusal: options.onRefusal,
    onStored: options.onStored,
  };
  const sync = serveSync(options, tails, consumerName, logger);
  const consuming = await consumeInRounds(nc, consumerName, options.maxMessagesPerRound ?? 64, logger, async (messages) => {
    for (const msg of messages) options.onContact?.(msg.subject.slice(subjects.events('').length));
    return commitRound(await checkRound(messages, parts), parts);
  });
  logger.info(`ingest: consuming ${EVENTS_STREAM} as ${consumerName}`);
  return {
    async stop() {
      sync.unsubscribe();
      await consuming.stop();
    },
  };
}
