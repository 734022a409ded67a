// Store clearing at head office: closes each store's business days once the store's replicated log
// has passed their cut-off, appending one StoreDayClosed (the day's settlement statement) per day.
import { closingMayBeDue, decideDayClosings, type BusinessDayRule } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { BooksReader, type ProjectionRunner } from '../../projections/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { readModelsCaughtUp } from './periodic.js';

export interface DayCloserOptions {
  store: EventStore;
  runner: ProjectionRunner;
  writer: HqWriter;
  rule: BusinessDayRule;
  logger: Logger;
  /** How long a round waits for the read models to catch up before it gives up until the next. */
  catchUpTimeoutMs?: number;
}

/** The aggregate a store's statements belong to. */
const settlementStream = (storeId: string) => `settlement-${storeId}`;

/** One round of day closing over the stores that may have a day to close; resolves with the statements made. */
export async function closeStoreDays(options: DayCloserOptions): Promise<number> {
  const { store, runner, writer, rule, logger } = options;
  const timeoutMs = options.catchUpTimeoutMs ?? 5_000;
  // The decision reads the read models: they must hold every store event and every statement made so far.
  if (!(await readModelsCaughtUp(store, runner, timeoutMs))) {
    logger.warn('books: read models are behind the event store; store days are closed at the next round');
    return 0;
  }
  const books = new BooksReader(runner.db);
  let made = 0;
  for (const candidate of books.storesWithUnsettled()) {
    if (!closingMayBeDue(candidate, rule)) continue;
    const { storeId } = candidate;
    const statements = decideDayClosings({ kind: 'close_days', rule }, books.storeClearing(storeId));
    if (statements.length === 0) continue;
    await writer.append(statements.map((event) => ({ event, streamId: settlementStream(storeId) })));
    for (const { data } of statements)
      logger.info(`books: store ${storeId}, business day ${data.businessDay} closed: head office owes ${data.owed} yen`);
    made += statements.length;
  }
  if (made > 0 && !(await readModelsCaughtUp(store, runner, timeoutMs)))
    logger.warn('books: statements made but not yet in the read models');
  return made;
}
