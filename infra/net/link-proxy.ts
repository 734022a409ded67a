import { createServer, connect, type Server, type Socket } from 'node:net';
import { freePort } from '../free-port.js';

/**
 * A TCP relay standing for a store's WAN link to head office: point a store's NATS connection at
 * it, then cut and restore the link without touching the broker or the processes.
 */
export interface LinkProxy {
  /** The local port clients connect to. */
  readonly port: number;
  readonly url: string;
  readonly isCut: boolean;
  /** Drops every open connection and refuses new ones until restored. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startLinkProxy(target: { host?: string; port: number }, listenPort?: number): Promise<LinkProxy> {
  const port = listenPort ?? (await freePort());
  const open = new Set<Socket>();
  let cut = false;

  const server: Server = createServer((client) => {
    if (cut) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    // A relay must not add Nagle delays of its own to small request/reply messages.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });

  const link: LinkProxy = {
    port,
    url: `nats://127.0.0.1:${port}`,
    get isCut() {
      return cut;
    },
    cut() {
      cut = true;
      for (const socket of open) socket.destroy();
      open.clear();
    },
    restore() {
      cut = false;
    },
    close() {
      link.cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return link;
}
