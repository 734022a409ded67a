// What the snapshot stream holds of one store, as head office's snapshot publisher sees it.
import type { JetStreamManager } from '@nats-io/jetstream';
import { SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';

/** The store's messages in the snapshot stream: its numbered messages and its generation mark. */
export async function storeSnapshotMessages(jsm: JetStreamManager, storeId: string): Promise<number> {
  const info = await jsm.streams.info(SNAPSHOTS_STREAM, { subjects_filter: subjects.snapshot(storeId) });
  return Object.values(info.state.subjects ?? {}).reduce((sum, count) => sum + count, 0);
}
