// How head office's issuance snapshots reach a store: one JetStream stream per store in head
// office's snapshot account (see accounts.ts), named by the store id, on the single subject
// cardsys.snapshot.<id>, every message sealed to that store's key. Head office publishes full
// generations and changes into it and may purge what a newer full generation supersedes. The store
// reads it only by direct get (its account imports the direct gets of its own stream and nothing
// else) and may subscribe to the subject to learn that something new arrived.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { DiscardPolicy, StorageType } from '@nats-io/jetstream';
import { RequestError, type NatsConnection } from '@nats-io/transport-node';
import { snapshotStream, subjects } from '../../contracts/index.js';
import { ensureStream } from './jetstream-cluster.js';

/** Head office: creates the store's snapshot stream (with `replicas` copies), or leaves the existing one as it is. */
export async function ensureSnapshotStream(jsm: JetStreamManager, storeId: string, replicas: number): Promise<void> {
  await ensureStream(jsm, {
    name: snapshotStream(storeId),
    subjects: [subjects.snapshot(storeId)],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    allow_direct: true,
    num_replicas: replicas,
    description: `issuance snapshot of store ${storeId}, sealed to its key`,
  });
}

export interface StoredSnapshotMessage {
  /** Stream sequence: the store's cursor. A jump past cursor + 1 means head office purged what lay between. */
  seq: number;
  data: Uint8Array;
}

/** Direct gets kept in flight while catching up; each is one small request. */
const READ_WINDOW = 256;

/** The stream does not exist (yet): nothing published for the store. */
const isAbsent = (error: Error) => (error instanceof RequestError ? error.isNoResponders() : /stream not found/i.test(error.message));

/**
 * Edge: the JetStream API as its store's account imports it, direct gets of its own snapshot stream
 * under `subjects.snapshotApi(storeId)` (a store may not call `$JS.API.INFO`, hence no API check).
 */
export function storeSnapshotApi(nc: NatsConnection, storeId: string): Promise<JetStreamManager> {
  return jetstreamManager(nc, { checkAPI: false, apiPrefix: subjects.snapshotApi(storeId) });
}

/**
 * Edge: every message of the store's snapshot stream after `afterSeq`, in order, up to the last one
 * stored when the read reaches it. Direct gets only (by subject for the last and the next message, by
 * sequence in between), which is all a store's account imports; `jsm` from `storeSnapshotApi`.
 */
export async function* readSnapshotMessages(
  jsm: JetStreamManager,
  storeId: string,
  afterSeq: number,
): AsyncGenerator<StoredSnapshotMessage> {
  const stream = snapshotStream(storeId);
  const subject = subjects.snapshot(storeId);
  const get = (query: Parameters<JetStreamManager['direct']['getMessage']>[1]) => jsm.direct.getMessage(stream, query);
  let next = afterSeq + 1;
  for (;;) {
    let last;
    try {
      last = await get({ last_by_subj: subject });
    } catch (error) {
      if (isAbsent(error as Error)) return;
      throw error;
    }
    if (!last || last.seq < next) return;
    // Head office purges what a new full generation supersedes: the next message may lie further on.
    const first = await get({ seq: next, next_by_subj: subject });
    if (!first) return;
    yield { seq: first.seq, data: first.data };
    next = first.seq + 1;
    while (next <= last.seq) {
      const count = Math.min(READ_WINDOW, last.seq - next + 1);
      const batch = await Promise.all(Array.from({ length: count }, (_, i) => get({ seq: next + i })));
      for (const message of batch) if (message) yield { seq: message.seq, data: message.data };
      next += count;
    }
  }
}
