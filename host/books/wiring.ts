// Composition root of head office's books for the host process: the report routes (they only read
// the read models, so every instance serves them), and the two timer-driven checks (store day
// closing, load reconciliation) that append through head office's writer, so only the leader runs
// them (see host/leadership).
import type { FastifyPluginAsync } from 'fastify';
import { type BusinessDayRule, DEFAULT_LOAD_DEADLINES, JAPAN_BUSINESS_DAY, type LoadDeadlines } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { BooksReader, LoadTracks, type ProjectionRunner } from '../../projections/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { closeStoreDays } from './day-closer.js';
import { floatRoutes } from './float-routes.js';
import { loadRoutes } from './load-routes.js';
import { checkLoads } from './load-watch.js';
import { type PeriodicCheck, startPeriodicCheck } from './periodic.js';
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

export interface HeadOfficeBooksOptions extends BooksOptions {
  store: EventStore;
  /** This instance's read models: the books and load tracking are kept there. */
  runner: ProjectionRunner;
  logger: Logger;
}

export interface HeadOfficeBooks {
  /** Settlements, the float, card statements and loads, from this instance's read models. */
  routes(): FastifyPluginAsync;
  /** The checks that append StoreDayClosed and LoadOverdue through the writer, until stopped. */
  startChecks(hqWriter: HqWriter): PeriodicCheck;
}

export function headOfficeBooks(options: HeadOfficeBooksOptions): HeadOfficeBooks {
  const { store, runner, logger } = options;
  const rule = options.businessDay ?? JAPAN_BUSINESS_DAY;
  const deadlines = { ...DEFAULT_LOAD_DEADLINES, ...options.loadDeadlines };
  const now = options.now ?? Date.now;
  return {
    routes() {
      return async (app) => {
        const books = new BooksReader(runner.db);
        await app.register(settlementRoutes(books));
        await app.register(floatRoutes({ books, utcOffsetMinutes: rule.utcOffsetMinutes, now }));
        await app.register(statementRoutes(books));
        await app.register(loadRoutes(new LoadTracks(runner.db)));
      };
    },
    startChecks(writer) {
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
      return {
        async stop() {
          for (const check of checks) await check.stop();
        },
      };
    },
  };
}
