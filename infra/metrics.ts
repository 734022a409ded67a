// Every metric cardsys exposes in Prometheus's format (GET /metrics on head office's API and on an
// edge started with --metrics), named and described once here; the host and the edge each make the
// ones they report in a registry of their own.
import { createServer, type Server } from 'node:http';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds, from a few milliseconds to an hour (a store catching up after a day offline). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600];
/** Seconds for a counter command: the card and, for a load, head office's authorisation. */
const COMMAND_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

/** The metrics, by the part that reports them. */
export const METRICS = {
  host: {
    eventsIngested: { name: 'cardsys_ingest_events_total', help: 'Store events head office stored, by store', labels: ['store'] },
    ingestLag: {
      name: 'cardsys_ingest_lag_seconds',
      help: "How old a batch's newest event was (its occurred-at at the store) when head office stored it",
    },
    projectionLag: {
      name: 'cardsys_projection_lag_events',
      help: 'Events in the host event store the read models have not applied yet',
    },
    batchesRefused: {
      name: 'cardsys_ingest_batches_refused_total',
      help: "Stores' batches head office refused, by reason",
      labels: ['reason'],
    },
    storeAckLatency: {
      name: 'cardsys_store_ack_latency_seconds',
      help: "From a batch's publish to JetStream to head office's StoreAck confirming it",
    },
    openAuthorisations: { name: 'cardsys_open_load_authorisations', help: 'Loads authorised and not yet confirmed or reversed' },
    alertsOpen: { name: 'cardsys_alerts_open', help: 'Purse alerts not resolved, by kind and severity', labels: ['kind', 'severity'] },
    apiLatency: {
      name: 'cardsys_api_request_duration_seconds',
      help: "Head office's API: time to answer, by method, route and status",
      labels: ['method', 'route', 'status'],
    },
    natsReconnects: { name: 'cardsys_nats_reconnects', help: "Reconnections to NATS since start, by head office's part", labels: ['part'] },
    storesOnline: { name: 'cardsys_stores_online', help: 'Stores head office has heard from lately (their heartbeat or a batch)' },
  },
  edge: {
    unconfirmed: { name: 'cardsys_edge_unconfirmed_events', help: 'Events in the store log head office has not confirmed yet' },
    commandLatency: {
      name: 'cardsys_edge_pos_command_duration_seconds',
      help: 'POS commands at the counter (pay, load, issue, read): time to answer, by command and outcome',
      labels: ['command', 'outcome'],
    },
    cardErrors: {
      name: 'cardsys_edge_card_errors_total',
      help: 'POS commands that failed at the card (removed, refused, unusable, no card, a card error), by code',
      labels: ['code'],
    },
    natsReconnects: { name: 'cardsys_nats_reconnects', help: "Reconnections of the edge's NATS connection since start", labels: ['part'] },
  },
} as const;

/** The reply codes that mean the card, not the command, failed. */
export const CARD_ERROR_CODES: ReadonlySet<string> = new Set(['card_error', 'card_refused', 'card_removed', 'card_unusable', 'no_card']);

type Spec = { name: string; help: string; labels?: readonly string[] };

/** A registry with the process's own metrics (CPU, memory, event loop) and the ones made with it. */
export class MetricsRegistry {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  counter(spec: Spec): Counter {
    return new Counter({ name: spec.name, help: spec.help, labelNames: spec.labels ?? [], registers: [this.registry] });
  }

  histogram(spec: Spec, buckets: 'latency' | 'command' = 'latency'): Histogram {
    return new Histogram({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labels ?? [],
      buckets: buckets === 'latency' ? LATENCY_BUCKETS : COMMAND_BUCKETS,
      registers: [this.registry],
    });
  }

  /** A gauge read when scraped: `read` sets its values. */
  gauge(spec: Spec, read: (gauge: Gauge) => void | Promise<void>): Gauge {
    return new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labels ?? [],
      registers: [this.registry],
      async collect() {
        await read(this);
      },
    });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Serves GET /metrics on its own port (an edge has no HTTP API); resolves once listening. */
export function serveMetrics(metrics: MetricsRegistry, address: { host: string; port: number }): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/metrics') {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { 'content-type': metrics.contentType }).end(text),
      (error: Error) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`${error.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve(server));
  });
}
