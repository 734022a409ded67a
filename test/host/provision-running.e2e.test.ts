// A store provisioned while head office and its hub run is admitted at once: provisioning rewrites
// the accounts the hub's configuration includes and signals the hub to reload them, and the running
// head office registers the store (its signing key) without a restart.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog } from '../../edge/index.js';
import { freePort } from '../../infra/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { purchase } from '../../testkit/backbone.js';
import { cardsys, startCardsys, type RunningCli } from '../support/cli.js';

describe('provisioning a store on a running head office', () => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-provision-running-'));
  const hq = join(root, 'hq-machine');
  const storeC = join(root, 'store-c-machine');
  let hub: NatsServer | undefined;
  let broker: NatsServer | undefined;
  const running: RunningCli[] = [];
  afterAll(async () => {
    for (const child of running.reverse()) await child.stop();
    await broker?.stop();
    await hub?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('store C, provisioned while host and nats-server run, connects through its broker and replicates; head office never restarts', async () => {
    expect(cardsys(['host', 'provision-store', '--data', hq, '--store', 'A', '--name', 'Store A']).code).toBe(0);
    const [port, leafPort, brokerPort] = [await freePort(), await freePort(), await freePort()];
    const config = cardsys([
      'host',
      'nats-config',
      '--data',
      hq,
      '--listen',
      `127.0.0.1:${port}`,
      '--leaf-listen',
      `127.0.0.1:${leafPort}`,
    ]);
    expect(config.code, config.stderr).toBe(0);
    hub = await startNatsServer({ dataDir: join(root, 'hub'), port, configFile: join(hq, 'hq', 'nats-server.conf') });
    const host = startCardsys(['host', '--data', hq, '--http', '127.0.0.1:0', '--json']);
    running.push(host);
    const ready = await host.answer<{ api: string }>();

    const provisioned = cardsys(['host', 'provision-store', '--data', hq, '--store', 'C', '--name', 'Store C', '--json']);
    expect(provisioned.code, provisioned.stderr).toBe(0);
    expect(provisioned.json()).toMatchObject({ ok: true, storeId: 'C', hub: { reloaded: true, pid: expect.any(Number) } });

    // Store C's machine gets its bundle and runs its broker, a leaf of the hub that logs in with C's
    // certificate; its log already holds three events when the edge starts.
    cpSync(join(hq, 'stores', 'C'), join(storeC, 'stores', 'C'), { recursive: true });
    const brokerConfig = cardsys([
      'edge',
      'broker-config',
      '--data',
      storeC,
      '--store',
      'C',
      '--hub',
      `tls://127.0.0.1:${leafPort}`,
      '--listen',
      `127.0.0.1:${brokerPort}`,
      '--json',
    ]);
    expect(brokerConfig.code, brokerConfig.stderr).toBe(0);
    broker = await startNatsServer({
      dataDir: join(root, 'broker-c'),
      port: brokerPort,
      configFile: brokerConfig.json<{ file: string }>().file,
    });
    const log = await EventLog.open({ dir: join(storeC, 'stores', 'C', 'log'), storeId: 'C' });
    await log.append([purchase(1), purchase(2), purchase(3)]);
    await log.close();
    const edge = startCardsys(['edge', '--store', 'C', '--data', storeC, '--nats', broker.url]);
    running.push(edge);
    await edge.waitFor(/edge C: head 3, confirmed 3, unconfirmed 0/, 60_000);
    expect(edge.stderr()).not.toMatch(/Authorization Violation|Permissions Violation/i);

    const token = cardsys(['host', 'token', '--data', hq, '--role', 'operator', '--subject', 'test']).stdout.trim();
    const sync = await fetch(`${ready.api}/v1/stores/C/sync`, { headers: { authorization: `Bearer ${token}` } });
    expect(sync.status).toBe(200);
    expect(await sync.json()).toMatchObject({ storeId: 'C', lastSeqReceived: 3 });
    expect(host.stderr()).toContain('registered provisioned store C');
    // The broker's leaf login is a user only a leaf connection may be: a client naming it is refused.
    await expect(
      connect({ servers: hub.url, user: 'urn:cardsys:store:C', tls: { caFile: join(hq, 'hq', 'tls', 'ca.pem') }, reconnect: false }),
    ).rejects.toThrow(/Authorization Violation/);
    // The same head office process all along.
    expect(host.child.exitCode).toBeNull();
  }, 180_000);
});
