// Real parts for tests of head office's books: the purse world (nats-server, SQLite host event
// store, ingest, inquiry centre, stores with cuttable links) keeping every head-office read model,
// and the query API with the purse and books routes and the books' timer-driven checks running.
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../host/api/index.js';
import { headOfficeBooks, type BooksOptions } from '../host/books/index.js';
import { purseRoutes } from '../host/purse/index.js';
import { headOfficeProjections } from '../projections/index.js';
import { startPurseWorld, type PurseWorld, type PurseWorldOptions } from './purse-world.js';

export interface BooksWorld extends PurseWorld {
  api: FastifyInstance;
  /** GET on the API, expecting 200; the parsed JSON body. */
  get<T = Record<string, unknown>>(url: string): Promise<T>;
}

export async function startBooksWorld(storeIds: string[], options: PurseWorldOptions & { books?: BooksOptions } = {}): Promise<BooksWorld> {
  const world = await startPurseWorld(storeIds, { ...options, projections: (issuerKeys) => headOfficeProjections(issuerKeys) });
  const { store, hq } = world.backbone;
  const api = await buildApi({
    store,
    runner: world.runner,
    plugins: [
      purseRoutes({ centre: world.centre, ledger: world.ledger }),
      headOfficeBooks(options.books).routes({ store, hqWriter: hq, runner: world.runner, logger: world.log.logger }),
    ],
  });
  const closeWorld = world.close;
  return Object.assign(world, {
    api,
    async get<T>(url: string): Promise<T> {
      const response = await api.inject({ method: 'GET', url });
      if (response.statusCode !== 200) throw new Error(`GET ${url} answered ${response.statusCode}: ${response.body}`);
      return response.json() as T;
    },
    async close() {
      await api.close();
      await closeWorld();
    },
  });
}

/** A store clock that runs on from wherever it was last set (a store whose clock is set back, or a day's cut-off reached in a test). */
export function settableClock(start: number) {
  let base = start;
  let anchor = Date.now();
  return {
    now: () => new Date(base + (Date.now() - anchor)),
    set(at: number) {
      base = at;
      anchor = Date.now();
    },
  };
}
