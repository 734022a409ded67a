// The whole system as `make demo` runs it: nats-server hub and store brokers, head office, two
// edges, a virtual card through pcscd + vpcd, POS commands — every one a real process started by
// `cardsys demo` — checked from head office's API, then stopped with nothing left behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/index.js';
import { tokenFor } from '../../host/api/index.js';
import { endDemo, processesUsing } from '../support/demo-process.js';

const DEMO_TIMEOUT_MS = 240_000;
const roots: string[] = [];
const demos: Array<{ child: ChildProcess; root: string }> = [];

afterAll(async () => {
  for (const { child, root } of demos) await endDemo(child, root);
  for (const root of roots) rmSync(root, { recursive: true, force: true });
}, 60_000);

interface Demo {
  child: ChildProcess;
  dataDir: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startDemo(http: string, extra: string[] = []): Demo {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-demo-'));
  roots.push(root);
  const dataDir = join(root, 'data');
  const child = spawn(process.execPath, ['bin/cardsys.js', 'demo', '--data', dataDir, '--http', http, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  demos.push({ child, root });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, dataDir, stderr: () => stderr, exited };
}

async function getJson(url: string, token: string): Promise<any> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  expect(response.status, url).toBe(200);
  return response.json();
}

describe('cardsys demo', () => {
  it(
    'walks a card through the day; head office sees what the chip holds; Ctrl-C stops every process',
    async () => {
      const port = await freePort();
      const demo = startDemo(`127.0.0.1:${port}`, ['--keep-running']);
      await expect.poll(demo.stderr, { timeout: DEMO_TIMEOUT_MS, interval: 500 }).toMatch(/press Ctrl-C to stop|demo stopped/);
      expect(demo.stderr()).not.toContain('demo stopped');

      const api = `http://127.0.0.1:${port}`;
      expect(demo.stderr()).toContain(`query API: ${api}`);
      expect(demo.stderr()).toContain(`OpenAPI:   ${api}/docs`);
      const cardId = /GET \/v1\/cards\/([0-9a-f]{16}):/.exec(demo.stderr())?.[1];
      const userId = /\/v1\/users\/(\S+?),/.exec(demo.stderr())?.[1];
      expect(cardId).toBeDefined();

      // An auditor of the demo's head office, with a token from its key, as the summary says.
      const auditor = await tokenFor(join(demo.dataDir, 'hq'), 'auditor', 'demo-test');
      expect(demo.stderr()).toContain(`cardsys host token --data ${demo.dataDir} --role auditor`);
      expect((await fetch(`${api}/v1/cards/${cardId}`)).status).toBe(401);
      const card = await getJson(`${api}/v1/cards/${cardId}`, auditor);
      expect(card).toMatchObject({
        cardId,
        userId,
        issuance: { storeId: 'A' },
        // Lost later in the day and captured at store A: its chip emptied and terminated, the card closed as lost.
        usage: { loadCount: 1, loadedTotal: 10_000, payCount: 3, paidTotal: 7_500, lastBalance: 0, lastStoreId: 'A' },
        closed: { reason: 'lost', storeId: 'A', unloadedAmount: 2_500 },
      });
      // The card was lost later in the day: the user holds its replacement too, which took its ¥2,500.
      const replacement = await getJson(`${api}/v1/cards/${cardId}/replacement`, auditor);
      expect(replacement).toMatchObject({ status: 'transferred', transferred: { amount: 2_500, storesWaitedFor: ['A'] }, moved: 2_500 });
      const user = await getJson(`${api}/v1/users/${userId}`, auditor);
      expect(user).toMatchObject({ homeStoreId: 'A' });
      expect(user.cards.map((held: { cardId: string }) => held.cardId)).toEqual(expect.arrayContaining([cardId, replacement.newCardId]));
      expect(await getJson(`${api}/v1/cards/${replacement.newCardId}`, auditor)).toMatchObject({
        issuance: { storeId: 'A' },
        usage: { loadCount: 1, loadedTotal: 2_500, lastBalance: 2_500 },
        replacement: { lostCardId: cardId, status: 'transferred', moved: 2_500 },
      });
      expect(demo.stderr()).toMatch(/store A refuses it\n.*blacklisted.*\n\s+POS: this card is reported lost or stolen/);
      expect(demo.stderr()).toMatch(
        /cardsys pos replacement-credit\)\n.*transferred, ¥2,500 to card [0-9a-f]{16}.*\n\s+POS: ¥2,500 of the lost card credited; balance ¥2,500/,
      );
      const sync = await getJson(`${api}/v1/stores/A/sync`, auditor);
      expect(sync.eventsBehind).toBe(0);
      expect(sync.lastSeqReceived).toBeGreaterThanOrEqual(4);
      // The offline pays reached head office after the link came back.
      const events = (await getJson(`${api}/v1/cards/${cardId}/events`, auditor)).events as Array<{ type: string }>;
      expect(events.filter((event) => event.type === 'PursePaid')).toHaveLength(3);
      expect((await fetch(`${api}/docs/json`)).status).toBe(200);
      // The console is up, and the token the summary prints signs in there (the page reads the API with it).
      const consoleToken = new RegExp(`head office's console ${api}/console/: sign in with the operator's token\\n\\s+(\\S+)`).exec(
        demo.stderr(),
      )?.[1];
      expect(consoleToken).toBeDefined();
      expect((await fetch(`${api}/console/`)).headers.get('content-type')).toMatch(/^text\/html/);
      expect((await getJson(`${api}/v1/overview`, consoleToken!)).stores.map((store: { storeId: string }) => store.storeId)).toEqual([
        'A',
        'B',
      ]);
      expect(demo.stderr()).toMatch(/head office's sync view shows store A behind\n.*\n.*→ 2 events behind/i);
      expect(demo.stderr()).toMatch(/cardsys audit replay.*\n\s+\d+ events verified: no findings/);
      expect(demo.stderr()).toMatch(/demo-clerk \(clerk\): POST \/v1\/users\/:userId\/cards/);
      const log = await getJson(`${api}/v1/access-log?subject=demo-test`, auditor);
      expect(log.entries.map((entry: { route: string }) => entry.route)).toEqual(
        expect.arrayContaining(['/v1/users/:userId', '/v1/cards/:cardId/events']),
      );
      // The day ends with store A's statement and the float: ¥10,000 loaded, ¥7,500 paid at store A.
      expect(demo.stderr()).toMatch(/GET \/v1\/stores\/A\/settlements: since the start, 3 pays ¥7,500: head office owes store A ¥7,500/);
      expect(demo.stderr()).toMatch(
        /GET \/v1\/float: ¥2,500 on 1 card\(s\) as of \S+ by when it happened, ¥2,500 by when head office knew it/,
      );

      expect(processesUsing(demo.dataDir).length).toBeGreaterThan(0);
      demo.child.kill('SIGINT');
      expect(await demo.exited).toBe(0);
      expect(processesUsing(demo.dataDir)).toEqual([]);
      expect(demo.stderr()).toContain('every process stopped');
    },
    DEMO_TIMEOUT_MS + 60_000,
  );

  it(
    'a process that dies while the demo keeps running stops the demo, naming its log, and every other process',
    async () => {
      const demo = startDemo(`127.0.0.1:${await freePort()}`, ['--keep-running']);
      await expect.poll(demo.stderr, { timeout: DEMO_TIMEOUT_MS, interval: 500 }).toMatch(/press Ctrl-C to stop|demo stopped/);
      const edgeB = processesUsing(demo.dataDir).find((line) => line.includes('edge --store B'));
      expect(edgeB).toBeDefined();
      process.kill(Number(edgeB!.split(':')[0]), 'SIGKILL');
      expect(await demo.exited).toBe(1);
      expect(demo.stderr()).toContain('demo stopped: step "Keep running until Ctrl-C" failed: edge-B exited unexpectedly (SIGKILL)');
      expect(demo.stderr()).toContain(`read ${join(demo.dataDir, 'logs', 'edge-B.log')}`);
      expect(processesUsing(demo.dataDir)).toEqual([]);
    },
    DEMO_TIMEOUT_MS + 60_000,
  );

  it('a failing step stops the demo naming the step and its log file, and leaves no process behind', async () => {
    // Head office cannot listen where its API should be: that port is taken.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const demo = startDemo(`127.0.0.1:${port}`);
      expect(await demo.exited).toBe(1);
      expect(demo.stderr()).toContain(
        'demo stopped: step "Start head office: ingest, SQLite event store, read models, query API, and its issuance station',
      );
      expect(demo.stderr()).toContain(`read ${join(demo.dataDir, 'logs', 'host.log')}`);
      expect(readFileSync(join(demo.dataDir, 'logs', 'host.log'), 'utf8')).toContain(`cannot serve the API on 127.0.0.1:${port}`);
      expect(processesUsing(demo.dataDir)).toEqual([]);
    } finally {
      taken.close();
    }
  }, 120_000);

  it('refuses a data folder it did not make', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cardsys-demo-'));
    roots.push(root);
    writeFileSync(join(root, 'notes.txt'), "somebody else's file\n");
    const child = spawn(process.execPath, ['bin/cardsys.js', 'demo', '--data', root, '--http', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(stderr).toContain(`${root} holds files the demo did not make`);
  });
});
