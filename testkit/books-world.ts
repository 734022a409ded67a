// Real parts for tests of head office's books: the purse world (nats-server, SQLite host event
// store, ingest, inquiry centre, stores with cuttable links) keeping every head-office read model,
// the query API with head office's access control and the purse and books routes, and the books'
// timer-driven checks running on head office's writer (as on the leading instance).
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApi, headOfficeAccess, ROLES, type Role, tokenFor } from '../host/api/index.js';
import { type BooksOptions, headOfficeBooks } from '../host/books/index.js';
import { purseRoutes } from '../host/purse/index.js';
import { headOfficeProjections } from '../projections/index.js';
import { type PurseWorld, type PurseWorldOptions, startPurseWorld } from './purse-world.js';

export interface BooksWorld extends PurseWorld {
  api: FastifyInstance;
  /** The Authorization header of a caller in this role (a token from head office's key). */
  as(role: Role): { authorization: string };
  /** GET on the API as a caller in this role, expecting 200; the parsed JSON body. */
  get<T = Record<string, unknown>>(role: Role, url: string): Promise<T>;
}

export async function startBooksWorld(storeIds: string[], options: PurseWorldOptions & { books?: BooksOptions } = {}): Promise<BooksWorld> {
  const world = await startPurseWorld(storeIds, { ...options, projections: (issuerKeys) => headOfficeProjections(issuerKeys) });
  const { store, hq } = world.backbone;
  const hqDataDir = join(world.backbone.dir, 'host');
  const books = headOfficeBooks({ ...options.books, store, runner: world.runner, logger: world.log.logger });
  const api = await buildApi({
    store,
    runner: world.runner,
    access: headOfficeAccess(hqDataDir, hq),
    plugins: [purseRoutes({ centre: () => world.centre, ledger: world.ledger }), books.routes()],
  });
  const checks = books.startChecks(hq);
  const tokens = new Map<Role, string>();
  for (const role of ROLES) tokens.set(role, await tokenFor(hqDataDir, role));
  const as = (role: Role) => ({ authorization: `Bearer ${tokens.get(role)!}` });
  const closeWorld = world.close;
  return Object.assign(world, {
    api,
    as,
    async get<T>(role: Role, url: string): Promise<T> {
      const response = await api.inject({ method: 'GET', url, headers: as(role) });
      if (response.statusCode !== 200) throw new Error(`GET ${url} as ${role} answered ${response.statusCode}: ${response.body}`);
      return response.json() as T;
    },
    async close() {
      await checks.stop();
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
