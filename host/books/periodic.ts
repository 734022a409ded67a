// Head office's timer-driven checks: each runs on its own interval, never twice at once, and a
// failure is logged and tried again at the next tick.
import type { Logger } from '../../infra/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { ProjectionRunner } from '../../projections/index.js';

export interface PeriodicCheck {
  /** Stops the timer and waits for a run in progress. */
  stop(): Promise<void>;
}

/** Runs `check` every `everyMs` (0: never, the check is off). */
export function startPeriodicCheck(name: string, everyMs: number, check: () => Promise<unknown>, logger: Logger): PeriodicCheck {
  let running: Promise<unknown> = Promise.resolve();
  const runNow = () => {
    const run = running.then(check);
    running = run.catch(() => undefined);
    return run;
  };
  const timer =
    everyMs > 0
      ? setInterval(() => void runNow().catch((error: Error) => logger.error(`${name} failed: ${error.message}`)), everyMs)
      : undefined;
  timer?.unref();
  return {
    async stop() {
      if (timer) clearInterval(timer);
      await running;
    },
  };
}

/**
 * Waits until the read models hold every event now in the event store, so that a decision taken on
 * them sees the events it acts on, and its own earlier decisions; false if that took too long.
 */
export async function readModelsCaughtUp(store: EventStore, runner: ProjectionRunner, timeoutMs: number): Promise<boolean> {
  const head = await store.headPosition();
  if (head === undefined) return true;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([runner.waitForPosition(head).then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
