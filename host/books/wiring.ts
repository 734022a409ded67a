// Composition root of head office's books for the host process: the report routes, and the two
// timer-driven checks (store day closing, load reconciliation) that run for as long as the API runs.
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_LOAD_DEADLINES, JAPAN_BUSINESS_DAY, type BusinessDayRule, type LoadDeadlines } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { BooksReader, LoadTracks, type ProjectionRunner } from '../../projections/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { closeStoreDays } from './day-closer.js';
import { floatRoutes } from './float-routes.js';
import { loadRoutes } from './load-routes.js';
import { checkLoads } from './load-watch.js';
import { startPeriodicCheck } from './periodic.js';
import { settlementRoutes } from './settlement-routes.js';
import { statementRoutes } from './statement-routes.js';

export interface BooksOptions {
  /** Business days for store clearing (and the time zone dates are read in); default the JST date, cut off at 00:00 JST. */
  businessDay?: BusinessDayRule;
  /** How long a load may stay in each state; default a minute each. */
  loadDeadlines?: Partial<LoadDeadlines>;
  /** How often store days are closed; 0 turns the timer off. Default 30 s. */
  closeDaysEveryMs?: number;
  /** How often loads are checked against their deadlines; 0 turns the timer off. Default 10 s. */
  checkLoadsEveryMs?: number;
  now?: () => number;
}

export interface BooksParts {
  store: EventStore;
  hqWriter: HqWriter;
  runner: ProjectionRunner;
  logger: Logger;
}

export function headOfficeBooks(options: BooksOptions = {}) {
  const rule = options.businessDay ?? JAPAN_BUSINESS_DAY;
  const deadlines = { ...DEFAULT_LOAD_DEADLINES, ...options.loadDeadlines };
  const now = options.now ?? Date.now;
  return {
    /** The books' routes; registering them starts the checks, closing the API stops them. */
    routes(parts: BooksParts): FastifyPluginAsync {
      return async (app) => {
        const { store, runner, hqWriter: writer, logger } = parts;
        const checks = [
          startPeriodicCheck(
            'books: closing store days',
            options.closeDaysEveryMs ?? 30_000,
            () => closeStoreDays({ store, runner, writer, rule, logger }),
            logger,
          ),
          startPeriodicCheck(
            'books: checking loads',
            options.checkLoadsEveryMs ?? 10_000,
            () => checkLoads({ store, runner, writer, deadlines, logger, now }),
            logger,
          ),
        ];
        app.addHook('onClose', async () => {
          for (const check of checks) await check.stop();
        });
        const books = new BooksReader(runner.db);
        await app.register(settlementRoutes(books));
        await app.register(floatRoutes({ books, utcOffsetMinutes: rule.utcOffsetMinutes, now }));
        await app.register(statementRoutes(books));
        await app.register(loadRoutes(new LoadTracks(runner.db)));
      };
    },
  };
}
