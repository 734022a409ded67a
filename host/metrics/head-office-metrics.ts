// Head office's metrics (GET /metrics on its API): what the ingest stored and refused and how
// fast, how far the read models trail the event store, open loads and alerts, the API's latency,
// NATS reconnections, and how many stores it hears from.
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { EventStore } from '../../eventstore/index.js';
import { METRICS, MetricsRegistry } from '../../infra/index.js';
import type { LinkWatch } from '../../infra/nats/index.js';
import { LoadTracks, type ProjectionRunner, PurseLedgerReader, ReadModelQueries } from '../../projections/index.js';
import type { StoreContacts } from '../console/index.js';
import type { BatchRefusal, StoredBatches } from '../ingest/index.js';

export interface HeadOfficeMetricsParts {
  store: EventStore;
  runner: ProjectionRunner;
  readModels: Database.Database;
  links: Record<string, LinkWatch>;
  contacts: StoreContacts;
}

export class HeadOfficeMetrics {
  private readonly metrics = new MetricsRegistry();
  private readonly eventsIngested = this.metrics.counter(METRICS.host.eventsIngested);
  private readonly ingestLag = this.metrics.histogram(METRICS.host.ingestLag);
  private readonly batchesRefused = this.metrics.counter(METRICS.host.batchesRefused);
  private readonly storeAckLatency = this.metrics.histogram(METRICS.host.storeAckLatency);
  private readonly apiLatency = this.metrics.histogram(METRICS.host.apiLatency);

  constructor(parts: HeadOfficeMetricsParts) {
    const loads = new LoadTracks(parts.readModels);
    const ledger = new PurseLedgerReader(parts.readModels);
    const queries = new ReadModelQueries(parts.readModels);
    this.metrics.gauge(METRICS.host.projectionLag, async (gauge) => {
      const head = await parts.store.headPosition();
      const applied = parts.runner.status().checkpoint;
      gauge.set(head === undefined ? 0 : Number(head - (applied ?? -1n)) - (applied === undefined ? 1 : 0));
    });
    this.metrics.gauge(METRICS.host.openAuthorisations, (gauge) => gauge.set(loads.open().length));
    this.metrics.gauge(METRICS.host.alertsOpen, (gauge) => {
      gauge.reset();
      for (const row of ledger.openAlertCounts()) gauge.set({ kind: row.kind, severity: row.severity }, row.count);
    });
    this.metrics.gauge(METRICS.host.natsReconnects, (gauge) => {
      for (const [part, link] of Object.entries(parts.links)) gauge.set({ part }, link.reconnects);
    });
    this.metrics.gauge(METRICS.host.storesOnline, (gauge) =>
      gauge.set(queries.stores().filter((store) => parts.contacts.of(store.storeId).online).length),
    );
  }

  /** What a round of the ingest stored for one store. */
  stored(stored: StoredBatches): void {
    const now = Date.now();
    this.eventsIngested.inc({ store: stored.storeId }, stored.events);
    if (stored.newestOccurredAtMs !== undefined) this.ingestLag.observe(Math.max(0, now - stored.newestOccurredAtMs) / 1000);
    for (const publishedAt of stored.publishedAtMs) this.storeAckLatency.observe(Math.max(0, now - publishedAt) / 1000);
  }

  /** A refused batch, by its reason with the numbers and names taken out (so that the label has few values). */
  refused(refusal: BatchRefusal): void {
    const reason = refusal.reason
      .replace(/"[^"]*"/g, '"…"')
      .replace(/\d+/g, 'N')
      .slice(0, 80);
    this.batchesRefused.inc({ reason });
  }

  /** Every API answer, by the route as declared (not the path asked). */
  answered(method: string, route: string, status: number, seconds: number): void {
    this.apiLatency.observe({ method, route, status: String(status) }, seconds);
  }

  /** GET /metrics, in Prometheus's text format; public like /healthz (counts and store ids, no personal data). */
  routes(): FastifyPluginAsync {
    return async (app) => {
      app.get(
        '/metrics',
        {
          schema: { summary: "Head office's metrics in Prometheus's text format", tags: ['health'] },
          config: { responses: { 200: 'text/plain; version=0.0.4' } },
        },
        async (_request, reply) => reply.type(this.metrics.contentType).send(await this.metrics.text()),
      );
    };
  }
}
