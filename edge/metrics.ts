// A store edge's metrics (`cardsys edge --metrics <host:port>`, GET /metrics): events head office
// has not confirmed, the counter's commands by outcome and time, card errors, NATS reconnections.
import { CARD_ERROR_CODES, METRICS, MetricsRegistry } from '../infra/index.js';
import type { PosReply } from '../contracts/index.js';

export class EdgeMetrics {
  readonly registry = new MetricsRegistry();
  private readonly commandLatency = this.registry.histogram(METRICS.edge.commandLatency, 'command');
  private readonly cardErrors = this.registry.counter(METRICS.edge.cardErrors);

  /** Reads the edge's state when scraped: its unconfirmed events and reconnections. */
  follow(edge: { unconfirmed: () => number; reconnects: () => number }): void {
    this.registry.gauge(METRICS.edge.unconfirmed, (gauge) => gauge.set(edge.unconfirmed()));
    this.registry.gauge(METRICS.edge.natsReconnects, (gauge) => gauge.set({ part: 'edge' }, edge.reconnects()));
  }

  /** A POS command answered. */
  answered(kind: string, reply: PosReply, seconds: number): void {
    this.commandLatency.observe({ command: kind, outcome: reply.ok ? 'ok' : reply.code || 'refused' }, seconds);
    if (CARD_ERROR_CODES.has(reply.code)) this.cardErrors.inc({ code: reply.code });
  }
}
