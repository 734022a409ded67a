// Head office's own events: one writer holds the `hq` chain, signs its head on every append and
// appends with the expected revision, one append at a time.
import type { KeyObject } from 'node:crypto';
import {
  decodeEnvelope,
  decodeEvent,
  type EventEnvelope,
  type EventInput,
  HQ_ORIGIN,
  keyIdOf,
  publicKeyFromRaw,
  rawPublicKey,
  type SealedEnvelope,
  type SigningKey,
  StoreId,
  sealEnvelope,
  signHead,
} from '../../contracts/index.js';
import {
  chainHeadRecord,
  type EventStore,
  type OriginTail,
  originStreamName,
  readOriginTail,
  WrongExpectedRevisionError,
} from '../../eventstore/index.js';
import type { StoreKeys } from '../ingest/index.js';

const HQ_STREAM = originStreamName(HQ_ORIGIN);

/**
 * A write reached a head-office instance that does not hold the writer (a follower, or a writer that
 * stepped down): the API answers 503, naming the leader where it is known.
 */
export class NotWriterError extends Error {
  override name = 'NotWriterError';
  readonly statusCode = 503;
  readonly code = 'not_leader';
  constructor(
    message: string,
    /** The API address of the instance that holds the writer, when known. */
    readonly leader?: string,
  ) {
    super(message);
  }
}

export interface HqWriterOptions {
  store: EventStore;
  signingKey: SigningKey;
  /**
   * For a head office that shares its event store with another instance: another writer's append
   * to `hq` (a WrongExpectedRevisionError) ends this writer. It is told once, and refuses every
   * later append. Without it the writer takes up the chain where it then stands.
   */
  fenced?: (error: WrongExpectedRevisionError) => void;
}

export class HqWriter {
  private queue: Promise<unknown> = Promise.resolve();
  private fencedBy: WrongExpectedRevisionError | undefined;

  private constructor(
    private readonly options: HqWriterOptions,
    private tail: OriginTail,
  ) {}

  /** Picks up the `hq` chain where the event store has it. */
  static async open(options: HqWriterOptions): Promise<HqWriter> {
    return new HqWriter(options, await readOriginTail(options.store, HQ_ORIGIN));
  }

  /** Head office's key: it signs the `hq` chain, and every message head office sends stores (blacklist changes and lists). */
  get signingKey(): SigningKey {
    return this.options.signingKey;
  }

  /** Sequence of head office's last stored event. */
  get headSeq(): number {
    return this.tail.lastSeq;
  }

  /** Appends the events, in order, with one signed chain head; resolves with their envelopes. */
  append(inputs: EventInput[]): Promise<SealedEnvelope[]> {
    const run = this.queue.then(() => this.appendNow(inputs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async appendNow(inputs: EventInput[]): Promise<SealedEnvelope[]> {
    if (this.fencedBy)
      throw new NotWriterError(`head office's writer stepped down: another instance wrote to hq (${this.fencedBy.message})`);
    if (inputs.length === 0) return [];
    const sealed: SealedEnvelope[] = [];
    let { lastSeq, lastHash } = this.tail;
    for (const input of inputs) {
      const next = sealEnvelope(HQ_ORIGIN, ++lastSeq, lastHash, input);
      lastHash = next.hash;
      sealed.push(next);
    }
    const head = signHead(this.options.signingKey, {
      storeId: HQ_ORIGIN,
      storeSeq: lastSeq,
      hash: lastHash,
    });
    const records = sealed.map(({ envelope, bytes }) => ({
      id: envelope.eventId,
      type: envelope.eventType,
      data: bytes,
    }));
    records.push(chainHeadRecord(head, lastSeq));
    try {
      const result = await this.options.store.appendToStream(HQ_STREAM, records, this.tail.revision);
      this.tail = { lastSeq, lastHash, revision: result.nextExpectedRevision };
    } catch (error) {
      if (error instanceof WrongExpectedRevisionError && this.options.fenced) {
        this.fencedBy = error;
        this.options.fenced(error);
        throw error;
      }
      // Someone else wrote to `hq`: take up the chain where it now stands before the next append.
      this.tail = await readOriginTail(this.options.store, HQ_ORIGIN);
      throw error;
    }
    return sealed;
  }
}

/** Registers a store and its chain-signing key with head office. */
export async function registerStore(
  writer: HqWriter,
  registration: {
    storeId: string;
    name: string;
    nearbyStoreIds?: string[];
    publicKey: KeyObject | Uint8Array;
  },
): Promise<SealedEnvelope[]> {
  const storeId = StoreId.parse(registration.storeId);
  const publicKey = registration.publicKey instanceof Uint8Array ? registration.publicKey : rawPublicKey(registration.publicKey);
  const streamId = `store-${storeId}`;
  return writer.append([
    {
      streamId,
      event: {
        type: 'StoreRegistered',
        data: {
          storeId,
          name: registration.name,
          nearbyStoreIds: registration.nearbyStoreIds ?? [],
        },
      },
    },
    {
      streamId,
      event: {
        type: 'StoreKeyRegistered',
        data: { storeId, keyId: keyIdOf(publicKey), publicKey },
      },
    },
  ]);
}

/**
 * Store keys as registered in `hq` (StoreKeyRegistered); re-reads the stream on a miss. A key is
 * made a KeyObject when first asked for: a start that only checks which of thousands of stores are
 * registered parses none.
 */
export function storeKeyDirectory(store: EventStore): StoreKeys & { isRegistered(storeId: string, keyId: string): Promise<boolean> } {
  const keys = new Map<string, KeyObject | Uint8Array>();
  let nextRevision = 0n;
  let reading: Promise<void> | undefined;

  const readNew = async () => {
    for (;;) {
      const records = await store.readStream(HQ_STREAM, {
        fromRevision: nextRevision,
        maxCount: 1000,
      });
      for (const record of records) {
        nextRevision = record.revision + 1n;
        if (record.type !== 'StoreKeyRegistered') continue;
        const envelope: EventEnvelope = decodeEnvelope(record.data);
        const event = decodeEvent(envelope.eventType, envelope.payload);
        if (event.type !== 'StoreKeyRegistered') continue;
        keys.set(`${event.data.storeId}/${event.data.keyId}`, event.data.publicKey);
      }
      if (records.length < 1000) return;
    }
  };

  const lookUp = async (name: string) => {
    if (!keys.has(name)) {
      reading ??= readNew().finally(() => (reading = undefined));
      await reading;
    }
    return keys.get(name);
  };

  return {
    async isRegistered(storeId, keyId) {
      return (await lookUp(`${storeId}/${keyId}`)) !== undefined;
    },
    async publicKey(storeId, keyId) {
      const name = `${storeId}/${keyId}`;
      const key = await lookUp(name);
      if (!(key instanceof Uint8Array)) return key;
      const parsed = publicKeyFromRaw(key);
      keys.set(name, parsed);
      return parsed;
    },
  };
}
