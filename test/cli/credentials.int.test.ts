// Every command finds what --data and --store imply, says which flag or file is missing when it
// cannot, refuses credentials that are not its own, and one data folder admits one process.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { cardsys, startCardsys, type RunningCli } from '../support/cli.js';

describe('credentials, keys and addresses from --data; one process per data folder', () => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-credentials-'));
  // Head office's machine, and a store machine that got a copy of store A's bundle.
  const hq = join(root, 'hq-machine');
  const store = join(root, 'store-machine');
  let hub: NatsServer;
  const running: RunningCli[] = [];

  beforeAll(async () => {
    expect(cardsys(['host', 'provision-store', '--data', hq, '--store', 'A', '--name', 'Store A']).code).toBe(0);
    const port = await freePort();
    expect(cardsys(['host', 'nats-config', '--data', hq, '--listen', `127.0.0.1:${port}`]).code).toBe(0);
    hub = await startNatsServer({ dataDir: join(root, 'hub'), port, configFile: join(hq, 'hq', 'nats-server.conf') });
    cpSync(join(hq, 'stores', 'A'), join(store, 'stores', 'A'), { recursive: true });
  });
  afterAll(async () => {
    for (const child of running) await child.kill();
    await hub?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('pos without credentials names --creds and the file it looked for; with the bundle it finds them itself', () => {
    const empty = join(root, 'empty');
    const caOnly = cardsys([
      'pos',
      'read',
      '--store',
      'A',
      '--data',
      empty,
      '--nats',
      hub.url,
      '--tls-ca',
      join(hq, 'hq', 'tls', 'ca.pem'),
      '--json',
    ]);
    expect(caOnly.code).toBe(1);
    expect(caOnly.json()).toEqual({
      ok: false,
      error: expect.stringContaining(
        `no credentials were given; pass --creds <file> or provide ${resolve(empty, 'stores', 'A', 'terminals', 'pos-1', 'nats.nk')}`,
      ),
    });

    const noCa = cardsys(['pos', 'read', '--store', 'A', '--data', empty, '--nats', hub.url]);
    expect(noCa.code).toBe(1);
    expect(noCa.stdout).toBe('');
    expect(noCa.stderr).toContain(`pass --tls-ca <file> or provide ${resolve(empty, 'stores', 'A', 'ca.pem')}`);

    // The bundle holds the credentials and the CA: nothing to name. No edge runs, so no one answers.
    const found = cardsys(['pos', 'read', '--store', 'A', '--data', store, '--nats', hub.url, '--timeout', '200', '--json']);
    expect(found.json()).toMatchObject({ ok: false, code: 'no_answer', message: expect.stringContaining('no responders') });
  });

  it('a provisioned bundle missing a file is refused naming the file, before anything connects', () => {
    const partial = join(root, 'partial');
    cpSync(join(store, 'stores', 'A'), join(partial, 'stores', 'A'), { recursive: true });
    rmSync(join(partial, 'stores', 'A', 'terminals', 'pos-1', 'nats.nk'));
    const run = cardsys(['pos', 'pay', '--store', 'A', '--amount', '100', '--data', partial, '--nats', hub.url, '--json']);
    expect(run.code).toBe(1);
    expect(run.json()).toEqual({
      ok: false,
      error: `store A's terminal pos-1 needs ${resolve(partial, 'stores', 'A', 'terminals', 'pos-1', 'nats.nk')}, which is missing: copy it from head office's provisioning, or pass --creds <file>`,
    });
  });

  it("an edge refuses credentials that are not its own: a POS terminal's from NATS_CREDS", () => {
    const run = cardsys(['edge', '--store', 'A', '--data', store, '--nats', hub.url], {
      env: { NATS_CREDS: join(store, 'stores', 'A', 'terminals', 'pos-1', 'nats.nk') },
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`are store A's terminal pos-1's: store A's edge logs in as`);
    expect(run.stderr).not.toContain('serving POS commands');
  });

  it('a second edge on the same data folder fails naming the first one’s process id', async () => {
    const first = startCardsys(['edge', '--store', 'A', '--data', store, '--nats', hub.url, '--json']);
    running.push(first);
    await first.waitFor(/"logHead":0/);
    const second = cardsys(['edge', '--store', 'A', '--data', store, '--nats', hub.url, '--json']);
    expect(second.code).toBe(1);
    expect(second.json()).toEqual({
      ok: false,
      error: `store A's data folder ${join(store, 'stores', 'A')} is in use by process ${first.pid} (lock ${join(store, 'stores', 'A', 'edge.lock')}); stop it first`,
    });
    expect(await first.stop()).toBe(0);
    // Released on stop: the next one starts.
    const third = startCardsys(['edge', '--store', 'A', '--data', store, '--nats', hub.url]);
    running.push(third);
    await third.waitFor(/edge A: log head 0/);
    await third.stop();
  });

  it('head office finds the hub from --data and a second head office on the folder fails naming the first', async () => {
    // No --nats: `host nats-config` recorded the hub's address in <data>/hq/hub.json.
    const first = startCardsys(['host', '--data', hq, '--http', '127.0.0.1:0', '--json']);
    running.push(first);
    const ready = await first.answer();
    expect(ready).toMatchObject({ ok: true, role: 'leader', nats: hub.url });
    const second = cardsys(['host', '--data', hq, '--http', '127.0.0.1:0', '--json']);
    expect(second.code).toBe(1);
    expect(second.json()).toMatchObject({
      ok: false,
      error: expect.stringContaining(`head office's data folder ${join(hq, 'hq')} is in use by process ${first.pid}`),
    });
    expect(await first.stop()).toBe(0);
  }, 120_000);
});
