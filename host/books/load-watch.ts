// Continuous load reconciliation at head office: a timer looks at every load not yet confirmed or
// reversed and raises a LoadOverdue (an alert on GET /v1/alerts) for one stuck past its state's
// deadline, within one check interval of the deadline.
import { decideOverdueLoads, type LoadDeadlines } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { LoadTracks, type ProjectionRunner } from '../../projections/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { readModelsCaughtUp } from './periodic.js';

export interface LoadWatchOptions {
  store: EventStore;
  runner: ProjectionRunner;
  writer: HqWriter;
  deadlines: LoadDeadlines;
  logger: Logger;
  now: () => number;
  catchUpTimeoutMs?: number;
}

/** One check of every open load; resolves with the alerts raised. */
export async function checkLoads(options: LoadWatchOptions): Promise<number> {
  const { store, runner, writer, logger } = options;
  const timeoutMs = options.catchUpTimeoutMs ?? 5_000;
  // A load looks stuck until the events that moved it on are in the read models.
  if (!(await readModelsCaughtUp(store, runner, timeoutMs))) {
    logger.warn('books: read models are behind the event store; loads are checked at the next round');
    return 0;
  }
  const overdue = decideOverdueLoads(
    { kind: 'check_loads', nowMs: options.now(), deadlines: options.deadlines },
    new LoadTracks(runner.db).open(),
  );
  if (overdue.length === 0) return 0;
  await writer.append(overdue.map((event) => ({ event, streamId: `card-${event.data.cardId}` })));
  for (const { data } of overdue)
    logger.warn(`books: load ${data.authorizationId} of card ${data.cardId} at store ${data.storeId} overdue in state ${data.state}`);
  await readModelsCaughtUp(store, runner, timeoutMs);
  return overdue.length;
}
