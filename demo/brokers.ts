// The demo's NATS topology. Head office runs the hub (JetStream, every principal's credentials);
// each store runs its own small broker on the store's LAN, where its edge and POS terminals
// connect with their own credentials, joined to the hub as a leaf node over the store's WAN link.
// Cutting that link takes the store offline while its POS terminals still reach its edge, as in a
// real shop: pays go on, replication waits.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { natsAuthorizationConfig, natsServerBinary, natsServerConfig, type NatsUser } from '../infra/nats/index.js';
import type { ProcessGroup, RunningChild } from './processes.js';

const READY = /Server is ready/;
/**
 * Without it both ends of a leaf connection deny the JetStream API, as for separate JetStream
 * domains; the stores' clients address the hub's JetStream as the one default domain.
 */
const ONE_JETSTREAM_DOMAIN = 'default_js_domain: { "$G": "" }';
const READY_TIMEOUT_MS = 15_000;

export interface LeafLogin {
  storeId: string;
  user: string;
  password: string;
}

export interface RunningBroker {
  readonly url: string;
  readonly child: RunningChild;
}

/** A password per store for its broker's leaf connection to the hub. */
export function leafLogin(storeId: string): LeafLogin {
  return { storeId, user: `leaf-${storeId}`, password: randomBytes(18).toString('base64url') };
}

const quote = (text: string) => JSON.stringify(text);

async function startBroker(group: ProcessGroup, name: string, configFile: string, config: string, port: number): Promise<RunningBroker> {
  mkdirSync(resolve(configFile, '..'), { recursive: true });
  writeFileSync(configFile, config, { mode: 0o600 });
  const child = group.start(name, natsServerBinary(), ['-c', configFile]);
  await child.waitForOutput(READY, READY_TIMEOUT_MS);
  return { url: `nats://127.0.0.1:${port}`, child };
}

/** Head office's hub: JetStream, every provisioned principal, and a leaf listener for the stores. */
export function startHub(
  group: ProcessGroup,
  options: { dir: string; port: number; leafPort: number; deadEndPort: number; users: NatsUser[]; leafLogins: LeafLogin[] },
): Promise<RunningBroker> {
  const config = [
    natsServerConfig({ listen: `127.0.0.1:${options.port}`, jetstreamDir: resolve(options.dir, 'jetstream'), users: options.users }),
    ONE_JETSTREAM_DOMAIN,
    'leafnodes {',
    `  listen: ${quote(`127.0.0.1:${options.leafPort}`)}`,
    // A leaf adds the address the hub advertises to the ones it dials, which would bypass the
    // store's WAN link: advertise one where nothing listens, so only the link gets a store through.
    `  advertise: ${quote(`127.0.0.1:${options.deadEndPort}`)}`,
    '  authorization {',
    '    users = [',
    ...options.leafLogins.map((login) => `      { user: ${quote(login.user)}, password: ${quote(login.password)} }`),
    '    ]',
    '  }',
    '}',
    '',
  ].join('\n');
  return startBroker(group, 'nats-hub', join(options.dir, 'nats-server.conf'), config, options.port);
}

/**
 * A store's broker: admits only that store's edge and POS terminals, without JetStream of its own
 * (JetStream requests travel to the hub), and keeps dialling the hub through `hubLeafUrl`.
 */
export function startStoreBroker(
  group: ProcessGroup,
  options: { dir: string; storeId: string; port: number; hubLeafHost: string; hubLeafPort: number; login: LeafLogin; users: NatsUser[] },
): Promise<RunningBroker> {
  const remote = `nats-leaf://${encodeURIComponent(options.login.user)}:${encodeURIComponent(options.login.password)}@${options.hubLeafHost}:${options.hubLeafPort}`;
  const config = [
    `listen: ${quote(`127.0.0.1:${options.port}`)}`,
    ONE_JETSTREAM_DOMAIN,
    // Back on the hub within a second of the link returning.
    `leafnodes { reconnect: 1, remotes = [ { url: ${quote(remote)} } ] }`,
    natsAuthorizationConfig(options.users),
  ].join('\n');
  return startBroker(group, `nats-store-${options.storeId}`, join(options.dir, 'nats-server.conf'), config, options.port);
}
