// Where an audit reads from: the host event store, or an export file. Both give the host's
// records in global order, their bytes exactly as stored.
import type { EventStore, StoredRecord } from '../eventstore/index.js';
import { decodeEnvelope, decodeEvent, HQ_ORIGIN } from '../contracts/index.js';
import type { Finding } from './findings.js';
import type { RegisteredKey } from './keys.js';
import { originStreamName } from '../eventstore/index.js';

/** A host record as an audit sees it (revision is not needed: order comes from store_seq). */
export type AuditRecord = Pick<StoredRecord, 'position' | 'streamId' | 'type' | 'id' | 'data'>;

export interface RecordSource {
  /** For messages: "event store <file>" or "export <file>". */
  readonly description: string;
  /** How many records the source will give, where known in advance (for the progress bar). */
  total(): Promise<number | undefined>;
  /** The records in global order, in batches. */
  batches(): AsyncIterable<AuditRecord[]>;
  /** True when the source stops before the end of the history (a range): tail checks do not apply. */
  readonly openEnd: boolean;
  /** Findings about the source itself, known once every batch was read (e.g. an export's digest). */
  integrityFindings(): Finding[];
  /**
   * Every store key head office registered, wherever the records start: a replay from a position
   * or of one store needs the keys registered before it.
   */
  registeredKeys(): Promise<RegisteredKey[]>;
}

/** StoreKeyRegistered events of head office's stream (head office's own key excepted: it comes from outside). */
async function registeredStoreKeys(store: EventStore): Promise<RegisteredKey[]> {
  const keys: RegisteredKey[] = [];
  for (let revision = 0n; ; ) {
    const page = await store.readStream(HQ_ORIGIN, { fromRevision: revision, maxCount: DEFAULT_BATCH });
    for (const record of page) {
      if (record.type !== 'StoreKeyRegistered') continue;
      const event = decodeEvent('StoreKeyRegistered', decodeEnvelope(record.data).payload);
      if (event.type === 'StoreKeyRegistered' && event.data.storeId !== HQ_ORIGIN)
        keys.push({ storeId: event.data.storeId, keyId: event.data.keyId, publicKey: event.data.publicKey });
    }
    if (page.length < DEFAULT_BATCH) return keys;
    revision = page[page.length - 1]!.revision + 1n;
  }
}

export interface EventStoreRange {
  /** Start after this position (0: from the beginning). */
  after?: bigint;
  /** Stop at this position, inclusive (undefined: to the end). */
  to?: bigint;
  /** Only this origin's stream (a store id or "hq"). */
  origin?: string;
  batchSize?: number;
}

const DEFAULT_BATCH = 10_000;

/** The host event store as a record source, read in pages of global order. */
export function eventStoreSource(store: EventStore, range: EventStoreRange = {}, description = 'event store'): RecordSource {
  const after = range.after ?? 0n;
  const batchSize = range.batchSize ?? DEFAULT_BATCH;
  const stream = range.origin === undefined ? undefined : originStreamName(range.origin);
  let openEnd = false;
  return {
    description,
    get openEnd() {
      return openEnd;
    },
    async total() {
      const head = await store.headPosition();
      if (head === undefined) return 0;
      openEnd = range.to !== undefined && range.to < head;
      if (stream !== undefined) {
        const revision = await store.streamRevision(stream);
        return revision === undefined ? 0 : Number(revision) + 1;
      }
      const end = range.to !== undefined && range.to < head ? range.to : head;
      return Math.max(0, Number(end - after));
    },
    async *batches() {
      if (stream !== undefined) {
        for (let revision = 0n; ; ) {
          const page = await store.readStream(stream, { fromRevision: revision, maxCount: batchSize });
          const inRange = page.filter((r) => r.position > after && (range.to === undefined || r.position <= range.to));
          if (inRange.length > 0) yield inRange;
          if (page.length < batchSize) return;
          revision = page[page.length - 1]!.revision + 1n;
        }
      }
      for (let position = after; ; ) {
        const page = await store.readAll({ after: position, maxCount: batchSize });
        const last = page[page.length - 1];
        if (last === undefined) return;
        if (range.to !== undefined && last.position > range.to) {
          openEnd = true;
          const inRange = page.filter((r) => r.position <= range.to!);
          if (inRange.length > 0) yield inRange;
          return;
        }
        yield page;
        position = last.position;
      }
    },
    integrityFindings: () => [],
    registeredKeys: () => registeredStoreKeys(store),
  };
}
