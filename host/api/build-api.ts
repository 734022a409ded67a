import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { NatsConnection } from '@nats-io/transport-node';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { Logger } from '../../infra/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { LinkWatch } from '../../infra/nats/index.js';
import { type ProjectionRunner, ReadModelQueries } from '../../projections/index.js';
import { type AccessControlOptions, installAccessControl } from './access-control.js';
import { accessLogRoutes } from './access-log.js';
import { healthRoute } from './health.js';
import { installErrorShapes } from './http-errors.js';
import { documentRoute, securitySchemes } from './openapi.js';
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
  /** Where the API logs its errors: a pino logger is fastify's own (with each request's id); otherwise none. */
  logger?: Logger;
  /** Who may call what (ROUTE_ACCESS): how callers are authenticated, where their writes and personal-data reads are recorded. */
  access: AccessControlOptions;
  /** Called before every request that may write (any method but GET, HEAD, OPTIONS): throws to refuse it (503 on a follower). */
  writeGuard?: () => void;
  /** Told of every answer (method, route as declared, status, seconds): the API's latency metrics. */
  onAnswered?: (method: string, route: string, status: number, seconds: number) => void;
  /** What /healthz tells of this instance's part in a head office of several: its role and the lease holder. */
  leadership?: () => object;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const isPino = (logger: Logger | undefined): logger is FastifyBaseLogger =>
  typeof (logger as { child?: unknown } | undefined)?.child === 'function' && typeof (logger as { level?: unknown }).level === 'string';

/** A feature's part of a card's view (e.g. the purse as head office last saw it); undefined adds nothing. */
export type CardView = (cardId: string) => Record<string, unknown> | undefined;

/**
 * The head office query API: OpenAPI at /docs (JSON at /docs/json), the read routes, the access
 * log and /healthz, every route but /healthz and /docs behind a bearer token with a role.
 * Returns the instance unstarted: call `listen()` or `inject()`.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(isPino(deps.logger) ? { loggerInstance: deps.logger, disableRequestLogging: true } : { logger: false }),
    genReqId: () => randomUUID(),
  });
  installErrorShapes(app);
  const { onAnswered } = deps;
  if (onAnswered)
    app.addHook('onResponse', async (request, reply) =>
      onAnswered(request.method, request.routeOptions.url ?? 'unknown', reply.statusCode, reply.elapsedTime / 1000),
    );
  await installAccessControl(app, deps.access);
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
        description: 'User DB, card history, purse, store sync status and the access log. Times are ISO 8601 UTC; money is whole yen.',
      },
      components: { securitySchemes },
    },
    transform: ({ schema, url, route }) => ({
      url,
      schema: documentRoute([route.method].flat()[0]!, url, schema, route.config?.responses) as typeof schema,
    }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(
    readRoutes({
      queries: new ReadModelQueries(deps.runner.db),
      store: deps.store,
      cardViews: deps.cardViews ?? [],
    }),
  );
  await app.register(
    healthRoute({
      store: deps.store,
      runner: deps.runner,
      nc: deps.nc,
      natsLink: deps.natsLink,
      leadership: deps.leadership,
    }),
  );
  await app.register(accessLogRoutes({ store: deps.store, runner: deps.runner }));
  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  return app;
}
