import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLinkProxy, type LinkProxy } from '../../infra/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';

describe('link proxy between a store and the broker', () => {
  let server: NatsServer;
  let link: LinkProxy;

  beforeAll(async () => {
    server = await startNatsServer({ dataDir: mkdtempSync(join(tmpdir(), 'cardsys-link-')) });
    link = await startLinkProxy({ port: server.port });
  });
  afterAll(async () => {
    await link.close();
    await server.stop();
  });

  it('carries NATS traffic while up, refuses it while cut, and carries it again once restored', async () => {
    const nc = await connect({ servers: link.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    const echo = nc.subscribe('echo');
    void (async () => {
      for await (const m of echo) m.respond(m.data);
    })();
    expect(new TextDecoder().decode((await nc.request('echo', 'one', { timeout: 2000 })).data)).toBe('one');

    link.cut();
    await expect(nc.request('echo', 'two', { timeout: 300 })).rejects.toThrow();
    expect(link.isCut).toBe(true);

    link.restore();
    let answer: string | undefined;
    for (let attempt = 0; attempt < 50 && answer === undefined; attempt++) {
      try {
        answer = new TextDecoder().decode((await nc.request('echo', 'three', { timeout: 300 })).data);
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    expect(answer).toBe('three');
    await nc.close();
  });
});
