import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVENTS_STREAM, subjects } from '../../contracts/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { registerStore } from '../../host/hq-writer/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { ROUTE_ACCESS, tokenFor } from '../../host/api/index.js';
import { EnvelopeChain } from '../support/envelope-chain.js';
import { cardIssued, purseLoaded, pursePaid } from '../support/host-events.js';

describe('host process: store events through NATS into the event store, read models and API', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-host-'));
  let nats: NatsServer;
  let host: HostNode;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    host = await startHost({ dataDir: join(dir, 'hq'), natsUrl: nats.url, http: { host: '127.0.0.1', port: 0 } });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await host?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const getJson = async (path: string) => {
    const response = await fetch(`${host.url}${path}`, {
      headers: { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), 'auditor')}` },
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };

  it('creates the CARDSYS_EVENTS stream with a 2 minute duplicate window', async () => {
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    expect(info.config.subjects).toEqual([subjects.eventsAll]);
    expect(info.config.duplicate_window).toBe(2 * 60 * 1_000_000_000);
    expect(info.config.storage).toBe('file');
  });

  it("ingests a registered store's batches and serves them through the API", async () => {
    const storeKey = generateSigningKey();
    await registerStore(host.hqWriter, { storeId: 'S1', name: 'Shop 1', publicKey: storeKey.publicKey });
    const chain = new EnvelopeChain('S1');
    const js = jetstream(nc);
    const first = chain.batch([cardIssued('c9', 'u9', 'S1'), purseLoaded('c9', 'S1', 10_000, 10_000)], storeKey);
    await js.publish(subjects.events('S1'), first.bytes, { msgID: 'S1:1-2' });
    const second = chain.batch([pursePaid('c9', 'S1', 2_500, 7_500)], storeKey, { localHeadSeq: 5 });
    await js.publish(subjects.events('S1'), second.bytes, { msgID: 'S1:3-3' });

    await expect.poll(async () => (await getJson('/v1/stores/S1/sync')).body.lastSeqReceived, { timeout: 20_000 }).toBe(3);
    const sync = (await getJson('/v1/stores/S1/sync')).body;
    expect(sync).toMatchObject({ storeId: 'S1', name: 'Shop 1', localHeadSeq: 5, eventsBehind: 2, batchesReceived: 2 });
    await host.runner.waitForPosition((await host.store.headPosition())!);
    const card = (await getJson('/v1/cards/c9')).body;
    expect(card.usage).toMatchObject({ loadedTotal: 10_000, paidTotal: 2_500, lastBalance: 7_500, count: 2 });
    // The purse ledger's verdict is on the card too: these test movements carry no valid card MAC.
    expect(card.blacklisted).toBe(false);
    expect(card.alerts.map((alert: { kind: string }) => alert.kind)).toContain('mac_invalid');
    const events = (await getJson('/v1/cards/c9/events')).body.events as Array<{ type: string; origin: string; originSeq: number }>;
    expect(events.map((e) => `${e.origin}#${e.originSeq} ${e.type}`)).toEqual(['S1#1 CardIssued', 'S1#2 PurseLoaded', 'S1#3 PursePaid']);
    const health = await getJson('/healthz');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok', projections: { lag: '0' } } });
    // The books: movements without a valid card MAC are no movements of value, on no statement and in no float.
    expect(await getJson('/v1/stores/S1/settlements')).toMatchObject({
      status: 200,
      body: { storeId: 'S1', statements: [], open: { pays: { count: 0 } } },
    });
    expect(await getJson('/v1/float')).toMatchObject({ status: 200, body: { byEventTime: { total: 0 }, byKnowledgeTime: { total: 0 } } });
    expect(await getJson('/v1/loads')).toMatchObject({ status: 200, body: { loads: [] } });
  });

  it('cardsys host prints where the API and its docs are, and stops on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli'), '--http', '127.0.0.1:0', '--business-day-cutoff', '4'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await expect
      .poll(() => stderr, { timeout: 20_000 })
      .toMatch(/query API: http:\/\/127\.0\.0\.1:\d+ +\(OpenAPI docs: http:\/\/127\.0\.0\.1:\d+\/docs/);
    const docsUrl = /OpenAPI docs: (\S+),/.exec(stderr)![1]!;
    const docs = (await (await fetch(`${docsUrl}/json`)).json()) as {
      paths: Record<string, Record<string, { tags?: string[]; 'x-roles'?: string[] }>>;
    };
    // Every books route is in the docs, and has the roles the route → roles table (ROUTE_ACCESS) gives it.
    const booksRoutes = Object.entries(docs.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.tags?.includes('books'))
        .map(([method, operation]) => ({
          route: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
          roles: operation['x-roles'],
        })),
    );
    expect(booksRoutes.map(({ route }) => route).sort()).toEqual(
      [
        'GET /v1/stores/:storeId/settlements',
        'GET /v1/float',
        'GET /v1/float/cards',
        'GET /v1/float/base-dates',
        'GET /v1/cards/:cardId/statement',
        'GET /v1/loads',
      ].sort(),
    );
    for (const { route, roles } of booksRoutes) expect(roles, route).toEqual(ROUTE_ACCESS[route]?.roles);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toContain('stopping on SIGTERM');
    // Off a terminal the parts log JSON lines through one logger: level, component, message.
    const logged = stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; component: string; msg: string });
    expect(logged).toContainEqual(expect.objectContaining({ level: 30, component: 'ingest', msg: expect.stringContaining('consuming') }));
    expect([...new Set(logged.map((line) => line.component))]).toEqual(expect.arrayContaining(['ingest', 'leadership', 'api']));
  });

  it('cardsys host logs readable lines with --log-format pretty, and refuses an unknown format or level', async () => {
    const child = spawn(
      process.execPath,
      ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli-pretty'), '--http', '127.0.0.1:0', '--log-format', 'pretty'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await expect.poll(() => stderr, { timeout: 20_000 }).toMatch(/INFO.*\(component: "?ingest|INFO.*ingest: consuming/s);
    expect(stderr.split('\n').some((line) => line.startsWith('{'))).toBe(false);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const [option, value, message] of [
      ['--log-format', 'xml', '--log-format: expected json or pretty, got "xml"'],
      ['--log-level', 'loud', '--log-level: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"'],
    ]) {
      const run = spawnSync(process.execPath, ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli'), option!, value!], {
        encoding: 'utf8',
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(message);
    }
  });

  it('cardsys host refuses a business-day cut-off that is not an hour', () => {
    const run = spawnSync(
      process.execPath,
      ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli'), '--business-day-cutoff', '24'],
      { encoding: 'utf8' },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain('--business-day-cutoff: expected an hour 0-23 (Japan time), got "24"');
  });

  it('cardsys host lists its load limits and refuses a limit that is not whole yen', () => {
    const help = spawnSync(process.execPath, ['bin/cardsys.js', 'host', '--help'], { encoding: 'utf8' });
    expect(help.stdout).toMatch(/--balance-cap <yen>[\s\S]*default: "50000"/);
    expect(help.stdout).toMatch(/--daily-load-limit <yen>[\s\S]*default: "30000"/);
    for (const [option, value] of [
      ['--balance-cap', '12.5'],
      ['--daily-load-limit', '0'],
    ] as const) {
      const run = spawnSync(process.execPath, ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli'), option, value], {
        encoding: 'utf8',
      });
      expect(run.status).not.toBe(0);
      expect(run.stderr).toContain(`${option}: expected a whole number of yen above 0, such as 50000, got "${value}"`);
    }
  });
});
