// One round of ingest: the JetStream messages taken together are checked per store against what
// the event store holds (`checkRound`), then each store's accepted records are appended with the
// expected revision and only then confirmed to the store and acked (`commitRound`).
import type { JsMsg } from '@nats-io/jetstream';
import { decodeBatch, decodeEnvelope, isValidStoreId, subjects, type EventBatch, type StoreAck } from '../../contracts/index.js';
import {
  CHAIN_HEAD_RECORD_TYPE,
  chainHeadRecord,
  originStreamName,
  readOriginTail,
  type EventStore,
  type NewRecord,
  type OriginTail,
} from '../../eventstore/index.js';
import { childLogger, type Logger } from '../../infra/index.js';
import { checkBatch, type StoreKeys } from './batch-check.js';

export interface BatchRefusal {
  storeId: string;
  range: string;
  resendFrom: number;
  reason: string;
  eventType?: string;
}

/** Per-store work within one round. */
interface StoreRound {
  tail: OriginTail;
  records: NewRecord[];
  messages: JsMsg[];
  refusal?: { resendFrom: number; reason: string };
}

type Round = Map<string, StoreRound>;

/** What the event store holds per store, loaded on first use and kept as ingest appends. */
export class CommittedTails {
  private readonly tails = new Map<string, Promise<OriginTail>>();

  constructor(private readonly store: EventStore) {}

  of(storeId: string): Promise<OriginTail> {
    let tail = this.tails.get(storeId);
    if (!tail) {
      tail = readOriginTail(this.store, storeId);
      this.tails.set(storeId, tail);
      tail.catch(() => this.tails.delete(storeId));
    }
    return tail;
  }

  committed(storeId: string, tail: OriginTail): void {
    this.tails.set(storeId, Promise.resolve(tail));
  }

  /** After a failed append: read the stream again next time. */
  forget(storeId: string): void {
    this.tails.delete(storeId);
  }
}

export interface RoundParts {
  store: EventStore;
  tails: CommittedTails;
  storeKeys: StoreKeys;
  logger: Logger;
  publishAck: (ack: StoreAck) => void;
  onRefusal?: ((refusal: BatchRefusal) => void) | undefined;
  onStored?: ((stored: StoredBatches) => void) | undefined;
}

/** What one store's part of a round put in the event store and confirmed, for the metrics. */
export interface StoredBatches {
  storeId: string;
  events: number;
  /** When the newest of those events happened at the store. */
  newestOccurredAtMs: number | undefined;
  /** When each batch was published to JetStream. */
  publishedAtMs: number[];
}

/** Decodes and checks each message in turn against its store's tail as the round has moved it. */
export async function checkRound(messages: JsMsg[], parts: RoundParts): Promise<Round> {
  const { logger } = parts;
  const rounds: Round = new Map();
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
      round = { tail: { ...(await parts.tails.of(storeId)) }, records: [], messages: [] };
      rounds.set(storeId, round);
    }
    round.messages.push(msg);
    await checkBatchInto(round, storeId, msg, batch, parts);
  }
  return rounds;
}

async function checkBatchInto(round: StoreRound, storeId: string, msg: JsMsg, batch: EventBatch, parts: RoundParts): Promise<void> {
  const verdict = await checkBatch(storeId, batch, round.tail, parts.storeKeys);
  if (verdict.kind === 'refuse') {
    const resendFrom = round.tail.lastSeq + 1;
    childLogger(parts.logger, { store: storeId }).error(
      `ingest: refused batch ${verdict.range} of store ${storeId} (message ${msg.seq}): ${verdict.reason}; asking for resend from ${resendFrom}`,
    );
    round.refusal = { resendFrom, reason: verdict.reason };
    parts.onRefusal?.({
      storeId,
      range: verdict.range,
      resendFrom,
      reason: verdict.reason,
      ...(verdict.eventType ? { eventType: verdict.eventType } : {}),
    });
  } else if (verdict.kind === 'accept') {
    for (const item of verdict.fresh) round.records.push({ id: item.envelope.eventId, type: item.envelope.eventType, data: item.bytes });
    round.records.push(chainHeadRecord(verdict.head, Number(batch.localHeadSeq)));
    const last = verdict.fresh.at(-1)!;
    round.tail.lastSeq = last.envelope.storeSeq;
    round.tail.lastHash = last.hash;
  }
}

/** Appends every store's records (stores side by side), then confirms and acks; a failed append naks its messages. */
export async function commitRound(rounds: Round, parts: RoundParts): Promise<void> {
  await Promise.all([...rounds].map(([storeId, round]) => commitStore(storeId, round, parts)));
}

async function commitStore(storeId: string, round: StoreRound, parts: RoundParts): Promise<void> {
  if (round.records.length > 0) {
    try {
      const result = await parts.store.appendToStream(originStreamName(storeId), round.records, round.tail.revision);
      parts.tails.committed(storeId, { ...round.tail, revision: result.nextExpectedRevision });
    } catch (error) {
      parts.tails.forget(storeId);
      parts.logger.error(
        `ingest: appending to ${originStreamName(storeId)} failed, messages go back for redelivery: ${(error as Error).message}`,
      );
      for (const msg of round.messages) msg.nak(500);
      return;
    }
  }
  const refusal = round.refusal && round.refusal.resendFrom > round.tail.lastSeq ? round.refusal : undefined;
  parts.publishAck({ storeId, confirmedSeq: round.tail.lastSeq, resendFrom: refusal?.resendFrom ?? 0, reason: refusal?.reason ?? '' });
  for (const msg of round.messages) msg.ack();
  if (parts.onStored) {
    const events = round.records.filter((record) => record.type !== CHAIN_HEAD_RECORD_TYPE);
    const newest = events.at(-1);
    parts.onStored({
      storeId,
      events: events.length,
      newestOccurredAtMs: newest ? decodeEnvelope(newest.data).occurredAtMs : undefined,
      publishedAtMs: round.messages.map((msg) => Math.floor(msg.info.timestampNanos / 1e6)),
    });
  }
}
