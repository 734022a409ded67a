import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyPluginAsync } from 'fastify';
import type { EventStore } from '../../eventstore/index.js';
import type { LinkWatch } from '../../infra/nats/index.js';
import type { ProjectionRunner } from '../../projections/index.js';

export interface HealthOptions {
  store: EventStore;
  runner: ProjectionRunner;
  /** Head office's NATS connection; absent when the API runs without one (reported, not failed). */
  nc?: NatsConnection;
  natsLink?: LinkWatch;
  /** This instance's role and the lease holder, shown as they are (a follower is healthy). */
  leadership?: () => object;
}

const NATS_PING_MS = 1000;

async function natsHealth(
  nc: NatsConnection | undefined,
  link: LinkWatch | undefined,
): Promise<{ ok: boolean; detail: string; reconnects?: number }> {
  if (!nc) return { ok: true, detail: 'not used by this process' };
  if (nc.isClosed()) return { ok: false, detail: 'connection closed' };
  const reconnects = link ? { reconnects: link.reconnects } : {};
  if (link?.downSince)
    return {
      ok: false,
      detail: `reconnecting: NATS unreachable since ${link.downSince.toISOString()}`,
      ...reconnects,
    };
  try {
    let timer: NodeJS.Timeout | undefined;
    const rtt = await Promise.race([
      nc.rtt(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${NATS_PING_MS} ms`)), NATS_PING_MS))),
    ]).finally(() => clearTimeout(timer));
    return {
      ok: true,
      detail: `${nc.getServer()} answered in ${rtt.toFixed(1)} ms`,
      ...reconnects,
    };
  } catch (error) {
    return {
      ok: false,
      detail: `${nc.getServer()}: ${(error as Error).message}`,
      ...reconnects,
    };
  }
}

/** GET /healthz: 200 when the event store answers, NATS answers and projections run; 503 otherwise. */
export function healthRoute(options: HealthOptions): FastifyPluginAsync {
  return async (app) => {
    const schema = {
      summary: 'Role (leader or follower) and lease holder, event store, NATS and projection lag (events not yet in the read models)',
      tags: ['health'],
    };
    const responses = {
      200: 'status ok: every part answers',
      503: 'status degraded: the part that does not answer says why',
    };
    app.get('/healthz', { schema, config: { responses } }, async (_request, reply) => {
      let eventStore: {
        ok: boolean;
        headPosition: string | null;
        detail?: string;
      };
      let head: bigint | undefined;
      try {
        head = await options.store.headPosition();
        eventStore = { ok: true, headPosition: head?.toString() ?? null };
      } catch (error) {
        eventStore = {
          ok: false,
          headPosition: null,
          detail: (error as Error).message,
        };
      }
      const status = options.runner.status();
      const checkpoint = status.checkpoint ?? 0n;
      const projections = {
        ok: status.running,
        running: status.running,
        checkpoint: status.checkpoint?.toString() ?? null,
        // Positions between the checkpoint and the head: events for SQLite, log bytes for EventStoreDB.
        lag: head !== undefined && head > checkpoint ? (head - checkpoint).toString() : '0',
        ...(status.error ? { error: status.error } : {}),
      };
      const nats = await natsHealth(options.nc, options.natsLink);
      const ok = eventStore.ok && nats.ok && projections.ok;
      return reply.code(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'degraded',
        ...options.leadership?.(),
        eventStore,
        nats,
        projections,
      });
    });
  };
}
