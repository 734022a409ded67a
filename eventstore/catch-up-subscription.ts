import { EventEmitter } from 'node:events';
import type { StoredRecord, SubscribeOptions, Subscription } from './event-store.js';

/**
 * Tells a store's subscriptions that records may have been appended: the store's own appends, and
 * whatever notice it gets of other processes' appends.
 */
export class AppendSignal {
  private readonly emitter = new EventEmitter();
  /** Appends noticed so far. */
  count = 0;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  notify(): void {
    this.count++;
    this.emitter.emit('append');
  }

  /**
   * Resolves when an append is noticed after `seen` (at once if one already was), after `pollMs`
   * (for appends no notice reaches), or when the signal aborts.
   */
  wait(seen: number, pollMs: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.count !== seen || signal.aborted) return resolve();
      const wake = () => {
        clearTimeout(timer);
        this.emitter.off('append', wake);
        signal.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, pollMs);
      this.emitter.on('append', wake);
      signal.addEventListener('abort', wake);
    });
  }
}

export interface CatchUpSource extends SubscribeOptions {
  /** Reads up to maxCount records after the position; undefined once the store is closed. */
  read(after: bigint | undefined, maxCount: number): Promise<StoredRecord[] | undefined>;
  /** Wakes the subscription when records may have been appended. */
  appends: AppendSignal;
  /** Longest wait between reads once caught up, for appends the signal does not hear of. */
  pollMs: number;
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
      // Noted before reading: an append that lands between the read and the wait is not missed.
      const seen = source.appends.count;
      const records = await source.read(after, batchSize);
      if (records === undefined) return;
      if (records.length === 0) {
        await source.appends.wait(seen, source.pollMs, stopping.signal);
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
