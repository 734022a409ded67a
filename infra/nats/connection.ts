// How every long-running part connects to NATS: it never gives up reconnecting (a store or head
// office that stops retrying after a broker outage is down until someone restarts it), backs off
// between attempts, and says in its log when the connection is lost, while it retries, and when it is back.
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../logger.js';

const FIRST_RETRY_MS = 250;
const LONGEST_RETRY_MS = 5_000;
/** After this many failed attempts in a row, each further one is logged only every so many. */
const QUIET_AFTER_ATTEMPTS = 5;
const LOG_EVERY_ATTEMPTS = 20;

/** Where a connection stands, for health reports. */
export type LinkState = 'connected' | 'reconnecting' | 'closed';

export interface LinkWatch {
  readonly state: LinkState;
  /** Reconnections since the connection was made. */
  readonly reconnects: number;
  /** When the current outage began, or undefined while connected. */
  readonly downSince: Date | undefined;
}

export interface ReconnectingConnection {
  nc: NatsConnection;
  link: LinkWatch;
}

/** The servers a `--nats` value names: one URL, or several comma-separated (the nodes of a cluster). */
function natsServers(url: string | string[]): string[] {
  return (Array.isArray(url) ? url : url.split(',')).map((server) => server.trim()).filter((server) => server.length > 0);
}

/**
 * Connects once to any of the servers (rejecting if the first attempt fails, so the caller can
 * decide whether to wait offline) and then reconnects forever with a capped exponential back-off, logging each change
 * of state under `component`.
 */
export async function connectReconnecting(
  options: ConnectionOptions & { servers: string | string[] },
  component: string,
  logger: Logger,
): Promise<ReconnectingConnection> {
  let failedAttempts = 0;
  const nc = await connect({
    ...options,
    servers: natsServers(options.servers),
    maxReconnectAttempts: -1,
    reconnectDelayHandler: () => Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(failedAttempts++, 10)),
  });
  const link = { state: 'connected' as LinkState, reconnects: 0, downSince: undefined as Date | undefined };
  void (async () => {
    for await (const status of nc.status()) {
      switch (status.type) {
        case 'disconnect':
          link.state = 'reconnecting';
          link.downSince = new Date();
          logger.warn(`${component}: lost the NATS connection to ${status.server}; reconnecting until it is back`);
          break;
        case 'reconnecting':
          if (failedAttempts <= QUIET_AFTER_ATTEMPTS || failedAttempts % LOG_EVERY_ATTEMPTS === 0) {
            logger.warn(
              `${component}: NATS still unreachable, attempt ${failedAttempts} (down since ${link.downSince?.toISOString() ?? 'now'})`,
            );
          }
          break;
        case 'reconnect': {
          const downMs = link.downSince ? Date.now() - link.downSince.getTime() : 0;
          link.state = 'connected';
          link.reconnects++;
          link.downSince = undefined;
          failedAttempts = 0;
          logger.info(`${component}: reconnected to NATS at ${status.server} after ${(downMs / 1000).toFixed(1)} s`);
          break;
        }
        default:
          break;
      }
    }
    link.state = 'closed';
  })();
  return { nc, link };
}

/** The server could not be reached at all (not running yet, wrong address): unlike a refused login, worth trying again. */
export function isUnreachable(error: Error): boolean {
  return /connection refused|ECONNREFUSED|timeout|ENOTFOUND|EHOSTUNREACH|getaddrinfo/i.test(error.message);
}
