import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { NatsConnection } from '@nats-io/transport-node';
import type { LinkWatch } from '../../infra/nats/index.js';
import type { EventStore } from '../../eventstore/index.js';
import { ReadModelQueries, type ProjectionRunner } from '../../projections/index.js';
import { installErrorShapes, zodToOpenApi } from './http-errors.js';
import { healthRoute } from './health.js';
import { readRoutes } from './read-routes.js';

export interface ApiDeps {
  store: EventStore;
  runner: ProjectionRunner;
  nc?: NatsConnection;
  /** How head office's NATS connection has fared (outages, reconnects), for /healthz. */
  natsLink?: LinkWatch;
  /** More routes (applications, blacklist, alerts…), registered after the docs so they appear in them. */
  plugins?: FastifyPluginAsync[];
  /** What other features add to GET /v1/cards/:cardId; a plugin may add its view while it registers. */
  cardViews?: CardView[];
  logger?: FastifyServerOptions['logger'];
  /** Called before every request that may write (any method but GET, HEAD, OPTIONS): throws to refuse it (503 on a follower). */
  writeGuard?: () => void;
  /** What /healthz tells of this instance's part in a head office of several: its role and the lease holder. */
  leadership?: () => object;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The head office query API: OpenAPI at /docs (JSON at /docs/json), the read routes and /healthz.
 * Returns the instance unstarted: call `listen()` or `inject()`.
 */
/** A feature's part of a card's view (e.g. the purse as head office last saw it); undefined adds nothing. */
export type CardView = (cardId: string) => Record<string, unknown> | undefined;

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({ logger: deps.logger ?? false });
  installErrorShapes(app);
  const { writeGuard } = deps;
  if (writeGuard) {
    app.addHook('onRequest', async (request) => {
      if (!READ_METHODS.has(request.method)) writeGuard();
    });
  }
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'cardsys head office API',
        version: '1',
        description: 'User DB, card history and store sync status. Times are ISO 8601 UTC; money is whole yen.',
      },
    },
    transform: ({ schema, url }) => ({
      url,
      schema: schema && Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, zodToOpenApi(value)])),
    }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(readRoutes({ queries: new ReadModelQueries(deps.runner.db), store: deps.store, cardViews: deps.cardViews ?? [] }));
  await app.register(
    healthRoute({ store: deps.store, runner: deps.runner, nc: deps.nc, natsLink: deps.natsLink, leadership: deps.leadership }),
  );
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
