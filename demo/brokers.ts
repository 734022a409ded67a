// The demo's NATS topology. Head office runs the hub (JetStream in head office's account, one
// account per store, TLS), configured by `cardsys host nats-config` — with `--cluster`, three hub
// nodes of one JetStream cluster; each store runs its own small broker on the store's LAN (TLS,
// only that store's edge and POS terminals), configured by `cardsys edge broker-config`, joined to
// the hub as a leaf node over the store's WAN link with the store's certificate as its login, which
// binds it to the store's account. Cutting that link takes the store offline while its POS
// terminals still reach its edge, as in a real shop: pays go on, replication waits.
import { type LinkProxy, startLinkProxy } from '../infra/index.js';
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

/**
 * A store's WAN link to head office: one relay to each hub node's leaf port (a clustered hub's
 * every node), cut and restored together, as when the shop's line goes down.
 */
export class WanLink {
  private constructor(private readonly relays: readonly LinkProxy[]) {}

  static async to(leafPorts: readonly number[]): Promise<WanLink> {
    return new WanLink(await Promise.all(leafPorts.map((port) => startLinkProxy({ port }))));
  }

  /** The leaf URLs the store's broker dials, one per hub node, each through the link. */
  get hubUrls(): string[] {
    return this.relays.map((relay) => `tls://127.0.0.1:${relay.port}`);
  }

  cut(): void {
    for (const relay of this.relays) relay.cut();
  }

  restore(): void {
    for (const relay of this.relays) relay.restore();
  }

  async close(): Promise<void> {
    for (const relay of this.relays) await relay.close();
  }
}
