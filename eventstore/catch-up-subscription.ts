import type { StoredRecord, SubscribeOptions, Subscription } from './event-store.js';

export interface CatchUpSource extends SubscribeOptions {
  /** Reads up to maxCount records after the position; undefined once the store is closed. */
  read(after: bigint | undefined, maxCount: number): Promise<StoredRecord[] | undefined>;
  /** Resolves when new records may have been appended, or when the signal aborts. */
  waitForAppends(signal: AbortSignal): Promise<void>;
}

const DEFAULT_BATCH_SIZE = 500;

/**
 * A catch-up subscription over a store that can read its global order: reads batches after the
 * checkpoint until it is caught up, then waits for appends and reads again. `done` rejects with
 * the handler's error if it threw.
 */
export function startCatchUpSubscription(source: CatchUpSource): Subscription {
  const stopping = new AbortController();
  const batchSize = source.batchSize ?? DEFAULT_BATCH_SIZE;
  const run = async () => {
    let after = source.after;
    while (!stopping.signal.aborted) {
      const records = await source.read(after, batchSize);
      if (records === undefined) return;
      if (records.length === 0) {
        await source.waitForAppends(stopping.signal);
        continue;
      }
      await source.handler(records);
      after = records[records.length - 1]!.position;
    }
  };
  const done = run();
  // Marks the rejection as handled; whoever awaits `done` still sees it.
  done.catch(() => undefined);
  return {
    done,
    async stop() {
      stopping.abort();
      await done.catch(() => undefined);
    },
  };
}
