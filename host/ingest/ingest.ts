// Host ingest: takes the stores' batches from JetStream, checks them, appends them to the host
// event store with expected revisions, and only then confirms to each store (StoreAck) and acks
// the JetStream messages.
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, StorageType, type JsMsg, type ConsumerMessages } from '@nats-io/jetstream';
import {
  decodeBatch,
  EVENTS_STREAM,
  isValidStoreId,
  pb,
  subjects,
  type EventBatch,
  type StoreAck,
  INGEST_CONSUMER,
} from '../../contracts/index.js';
import type { EventStore, NewRecord } from '../../eventstore/index.js';
import { checkBatch, type StoreKeys } from './batch-check.js';

import type { Logger } from '../../infra/index.js';
import { chainHeadRecord, originStreamName, readOriginTail, type OriginTail } from '../../eventstore/index.js';
import { serveRequests, storeAskingOn, type RefusedRequests } from '../../infra/nats/index.js';

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
  /** Most JetStream messages folded into one round of event-store appends. */
  maxMessagesPerRound?: number;
}

export interface BatchRefusal {
  storeId: string;
  range: string;
  resendFrom: number;
  reason: string;
  eventType?: string;
}

export interface Ingest {
  stop(): Promise<void>;
}

/** How long JetStream remembers a Nats-Msg-Id; older re-sends are caught by the host's own dedupe. */
export const DUPLICATE_WINDOW_MS = 2 * 60 * 1000;

/** Creates the CARDSYS_EVENTS stream if missing. Head office owns it; edges only publish. */
export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch {
    await jsm.streams.add({
      name: EVENTS_STREAM,
      subjects: [subjects.eventsAll],
      storage: StorageType.File,
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    });
  }
}

/** Per-store work within one round. */
interface StoreRound {
  tail: OriginTail;
  records: NewRecord[];
  messages: JsMsg[];
  refusal?: { resendFrom: number; reason: string };
}

export async function startIngest(options: IngestOptions): Promise<Ingest> {
  const { nc, store, storeKeys } = options;
  const logger = options.logger ?? console;
  const consumerName = options.consumerName ?? INGEST_CONSUMER;
  const maxPerRound = options.maxMessagesPerRound ?? 64;
  await ensureEventsStream(nc);
  const jsm = await jetstreamManager(nc);
  const consumerConfig = {
    durable_name: consumerName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(options.ackWaitMs ?? 10_000),
    max_ack_pending: 1024,
    filter_subject: subjects.eventsAll,
  };
  try {
    await jsm.consumers.add(EVENTS_STREAM, consumerConfig);
  } catch {
    await jsm.consumers.update(EVENTS_STREAM, consumerName, {
      ack_wait: consumerConfig.ack_wait,
      max_ack_pending: consumerConfig.max_ack_pending,
    });
  }

  /** What the event store holds per store, loaded on first use. */
  const committed = new Map<string, Promise<OriginTail>>();
  const tailOf = (storeId: string): Promise<OriginTail> => {
    let tail = committed.get(storeId);
    if (!tail) {
      tail = readOriginTail(store, storeId);
      committed.set(storeId, tail);
      tail.catch(() => committed.delete(storeId));
    }
    return tail;
  };

  const publishAck = (ack: StoreAck) => nc.publish(subjects.ack(ack.storeId), pb.StoreAck.encode(ack).finish());

  const syncSubscription: Subscription = serveRequests(options.responder ?? nc, {
    service: 'ingest sync',
    subject: subjects.sync('*'),
    queue: consumerName,
    askerOf: storeAskingOn,
    answer: async (_msg, { storeId }) => {
      options.onContact?.(storeId);
      return pb.StoreAck.encode({ storeId, confirmedSeq: (await tailOf(storeId)).lastSeq }).finish();
    },
    logger,
    ...(options.refused ? { refused: options.refused } : {}),
  });

  async function processRound(messages: JsMsg[]): Promise<void> {
    const rounds = new Map<string, StoreRound>();
    for (const msg of messages) {
      const storeId = msg.subject.slice(subjects.events('').length);
      if (!isValidStoreId(storeId)) {
        logger.error(`ingest: refused message ${msg.seq} on ${msg.subject}: invalid store id`);
        msg.term('invalid store id');
        continue;
      }
      let batch: EventBatch;
      try {
        batch = decodeBatch(msg.data);
      } catch (error) {
        logger.error(`ingest: refused message ${msg.seq} on ${msg.subject}: ${(error as Error).message}`);
        msg.term('malformed EventBatch');
        continue;
      }
      let round = rounds.get(storeId);
      if (!round) {
        round = { tail: { ...(await tailOf(storeId)) }, records: [], messages: [] };
        rounds.set(storeId, round);
      }
      round.messages.push(msg);
      options.onContact?.(storeId);
      const verdict = await checkBatch(storeId, batch, round.tail, storeKeys);
      if (verdict.kind === 'refuse') {
        const resendFrom = round.tail.lastSeq + 1;
        logger.error(
          `ingest: refused batch ${verdict.range} of store ${storeId} (message ${msg.seq}): ${verdict.reason}; asking for resend from ${resendFrom}`,
        );
        round.refusal = { resendFrom, reason: verdict.reason };
        options.onRefusal?.({
          storeId,
          range: verdict.range,
          resendFrom,
          reason: verdict.reason,
          ...(verdict.eventType ? { eventType: verdict.eventType } : {}),
        });
      } else if (verdict.kind === 'accept') {
        for (const item of verdict.fresh)
          round.records.push({ id: item.envelope.eventId, type: item.envelope.eventType, data: item.bytes });
        round.records.push(chainHeadRecord(verdict.head, Number(batch.localHeadSeq)));
        const last = verdict.fresh.at(-1)!;
        round.tail.lastSeq = last.envelope.storeSeq;
        round.tail.lastHash = last.hash;
      }
    }

    await Promise.all(
      [...rounds].map(async ([storeId, round]) => {
        if (round.records.length > 0) {
          try {
            const result = await store.appendToStream(originStreamName(storeId), round.records, round.tail.revision);
            committed.set(storeId, Promise.resolve({ ...round.tail, revision: result.nextExpectedRevision }));
          } catch (error) {
            committed.delete(storeId);
            logger.error(
              `ingest: appending to ${originStreamName(storeId)} failed, messages go back for redelivery: ${(error as Error).message}`,
            );
            for (const msg of round.messages) msg.nak(500);
            return;
          }
        }
        const refusal = round.refusal && round.refusal.resendFrom > round.tail.lastSeq ? round.refusal : undefined;
        publishAck({ storeId, confirmedSeq: round.tail.lastSeq, resendFrom: refusal?.resendFrom ?? 0, reason: refusal?.reason ?? '' });
        for (const msg of round.messages) msg.ack();
      }),
    );
  }

  const js = jetstream(nc);
  const consumer = await js.consumers.get(EVENTS_STREAM, consumerName);
  const delivered: ConsumerMessages = await consumer.consume({ max_messages: 512 });
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

  logger.info(`ingest: consuming ${EVENTS_STREAM} as ${consumerName}`);
  return {
    async stop() {
      syncSubscription.unsubscribe();
      await delivered.close();
      ended = true;
      wake?.();
      await loop;
    },
  };
}
