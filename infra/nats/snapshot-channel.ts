// How head office's issuance snapshots reach a store: one JetStream stream per store,
// CARDSYS_SNAPSHOT_<id>, on the single subject cardsys.snapshot.<id>, every message sealed to that
// store's key. Head office publishes full generations and changes into it and may purge what a newer
// full generation supersedes. The store reads it only by direct get (its permissions name its own
// stream and nothing else) and may subscribe to the subject to learn that something new arrived.
import type { JetStreamManager } from '@nats-io/jetstream';
import { DiscardPolicy, StorageType } from '@nats-io/jetstream';
import { snapshotStream, subjects } from '../../contracts/index.js';

/** Head office: creates the store's snapshot stream, or leaves the existing one as it is. */
export async function ensureSnapshotStream(jsm: JetStreamManager, storeId: string): Promise<void> {
  const name = snapshotStream(storeId);
  const exists = await jsm.streams.info(name).then(
    () => true,
    (error: Error) => {
      if (/stream not found/i.test(error.message)) return false;
      throw error;
    },
  );
  if (exists) return;
  await jsm.streams.add({
    name,
    subjects: [subjects.snapshot(storeId)],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    allow_direct: true,
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

/**
 * Edge: every message of the store's snapshot stream after `afterSeq`, in order, up to the last one
 * stored when the read reaches it. `jsm` may be made with `{ checkAPI: false }`: a store may not
 * call `$JS.API.INFO`.
 */
export async function* readSnapshotMessages(
  jsm: JetStreamManager,
  storeId: string,
  afterSeq: number,
): AsyncGenerator<StoredSnapshotMessage> {
  const stream = snapshotStream(storeId);
  let next = afterSeq + 1;
  for (;;) {
    const { state } = await jsm.streams.info(stream);
    next = Math.max(next, state.first_seq);
    if (next > state.last_seq) return;
    while (next <= state.last_seq) {
      const count = Math.min(READ_WINDOW, state.last_seq - next + 1);
      const batch = await Promise.all(Array.from({ length: count }, (_, i) => jsm.direct.getMessage(stream, { seq: next + i })));
      for (const message of batch) if (message) yield { seq: message.seq, data: message.data };
      next += count;
    }
  }
}
