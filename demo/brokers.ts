// The demo's NATS topology. Head office runs the hub (JetStream in head office's account, one
// account per store, TLS), configured by `cardsys host nats-config`; each store runs its own small
// broker on the store's LAN (TLS, only that store's edge and POS terminals), configured by
// `cardsys edge broker-config`, joined to the hub as a leaf node over the store's WAN link with the
// store's certificate as its login, which binds it to the store's account. Cutting that link takes
// the store offline while its POS terminals still reach its edge, as in a real shop: pays go on,
// replication waits.
import { natsServerBinary } from '../infra/nats/index.js';
import type { ProcessGroup, RunningChild } from './processes.js';

const READY = /Server is ready/;
const READY_TIMEOUT_MS = 15_000;

export interface RunningBroker {
  readonly url: string;
  readonly child: RunningChild;
}

/** Starts nats-server with a generated configuration that listens on 127.0.0.1:`port`. */
export async function startBroker(group: ProcessGroup, name: string, configFile: string, port: number): Promise<RunningBroker> {
  const child = group.start(name, natsServerBinary(), ['-c', configFile]);
  await child.waitForOutput(READY, READY_TIMEOUT_MS);
  return { url: `nats://127.0.0.1:${port}`, child };
}
