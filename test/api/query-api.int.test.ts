import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, headOfficeAccess, tokenFor, type Role } from '../../host/api/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { ProjectionRunner, projections } from '../../projections/index.js';
import { EnvelopeChain, appendChainBatch } from '../support/envelope-chain.js';
import { cardIssued, cardPrimaryIssued, purseLoaded, pursePaid, storeRegistered, userRegistered } from '../support/host-events.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('query API over real SQLite read models', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-api-'));
  let store: SqliteEventStore;
  let runner: ProjectionRunner;
  let nats: NatsServer;
  let nc: NatsConnection;
  let api: FastifyInstance;

  beforeAll(async () => {
    store = SqliteEventStore.open(join(dir, 'events.db'));
    const hq = new EnvelopeChain('hq');
    const storeA = new EnvelopeChain('A');
    await appendChainBatch(store, hq, [storeRegistered('A', 'Store A'), userRegistered('u1', 'A'), cardPrimaryIssued('c1', 'u1')]);
    await appendChainBatch(
      store,
      storeA,
      [cardIssued('c1', 'u1', 'A'), purseLoaded('c1', 'A', 10_000, 13_000), pursePaid('c1', 'A', 5_500, 7_500)],
      { localHeadSeq: 7 },
    );
    runner = ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store, projections });
    runner.start();
    await runner.waitForPosition((await store.headPosition())!);
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    nc = await connect({ servers: nats.url });
    const writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
    api = await buildApi({ store, runner, nc, access: headOfficeAccess(dir, writer) });
  });
  afterAll(async () => {
    await api.close();
    await nc.close();
    await nats.stop();
    await runner.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = async (url: string, role: Role = 'auditor') => {
    const response = await api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await tokenFor(dir, role)}` } });
    return { status: response.statusCode, body: response.json() as Record<string, any> };
  };

  it('GET /v1/users/:userId returns the user with cards and chip usage', async () => {
    const { status, body } = await get('/v1/users/u1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      userId: 'u1',
      homeStoreId: 'A',
      personal: { name: 'Name u1', birthDate: '1990-04-01' },
      bank: { bankCode: '0001' },
    });
    expect(body.registeredAt).toMatch(ISO_UTC);
    expect(body.cards).toHaveLength(1);
    expect(body.cards[0].usage).toMatchObject({ count: 2, loadedTotal: 10_000, paidTotal: 5_500, lastBalance: 7_500 });
  });

  it('GET /v1/cards/:cardId returns issuance and usage; the bank account only to roles that see personal data', async () => {
    const { status, body } = await get('/v1/cards/c1');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      cardId: 'c1',
      userId: 'u1',
      bankId: '00011231234567',
      expiry: '2030-12-31',
      issuance: { storeId: 'A', terminalId: 'pos-1' },
    });
    expect(body.usage.lastUsedAt).toMatch(ISO_UTC);
    expect(body.blacklisted).toBe(false);
    expect(body).not.toHaveProperty('withheld');
    const viewed = await get('/v1/cards/c1', 'viewer');
    expect(viewed.status).toBe(200);
    expect(viewed.body).toMatchObject({ cardId: 'c1', userId: 'u1', usage: body.usage, withheld: ['bankId'] });
    expect(viewed.body).not.toHaveProperty('bankId');
  });

  it('GET /v1/cards/:cardId/events pages decoded events with ISO times', async () => {
    const first = await get('/v1/cards/c1/events?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.events.map((e: { type: string }) => e.type)).toEqual(['CardPrimaryIssued', 'CardIssued']);
    expect(first.body.events[0]).toMatchObject({
      origin: 'hq',
      originSeq: 3,
      aggregate: 'card-c1',
      data: { cardId: 'c1', expiry: '2030-12-31' },
    });
    expect(first.body.events[0].occurredAt).toMatch(ISO_UTC);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await get(`/v1/cards/c1/events?limit=2&after=${first.body.next}`);
    expect(second.body.events.map((e: { type: string }) => e.type)).toEqual(['PurseLoaded', 'PursePaid']);
    expect(second.body.events[1].data).toMatchObject({ amount: 5_500, newBalance: 7_500, cardMac: 'beef' });
    const third = await get(`/v1/cards/c1/events?after=${second.body.next}`);
    expect(third.body).toEqual({ cardId: 'c1', events: [], next: null });
  });

  it('GET /v1/stores and /v1/stores/:storeId/sync report sync status', async () => {
    const sync = await get('/v1/stores/A/sync');
    expect(sync.status).toBe(200);
    expect(sync.body).toMatchObject({
      storeId: 'A',
      name: 'Store A',
      lastSeqReceived: 3,
      localHeadSeq: 7,
      eventsBehind: 4,
      batchesReceived: 1,
    });
    expect(sync.body.lastContactAt).toMatch(ISO_UTC);
    const list = await get('/v1/stores');
    expect(list.body.stores.map((s: { storeId: string }) => s.storeId)).toEqual(['A']);
  });

  it.each([
    ['/v1/users/bad%20id', 'userId'],
    [`/v1/cards/${'x'.repeat(65)}`, 'cardId'],
    ['/v1/cards/c1/events?limit=0', 'limit'],
    ['/v1/cards/c1/events?limit=ten', 'limit'],
    ['/v1/cards/c1/events?after=-5', 'after'],
    ['/v1/stores/hq/sync', 'storeId'],
    ['/v1/stores/no.dots/sync', 'storeId'],
  ])('GET %s → 400 naming %s', async (url, field) => {
    const { status, body } = await get(url);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'bad_request', field });
    expect(body.message).toMatch(new RegExp(`^${field}: `));
  });

  it.each(['/v1/users/u404', '/v1/cards/c404', '/v1/cards/c404/events', '/v1/stores/B/sync'])('GET %s → 404 not_found', async (url) => {
    const { status, body } = await get(url);
    expect(status).toBe(404);
    expect(body).toEqual({ error: 'not_found', message: expect.stringMatching(/^no (user|card|store) /) });
  });

  it('GET /healthz reports event store, NATS and projection lag', async () => {
    const { status, body } = await get('/healthz');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      eventStore: { ok: true },
      nats: { ok: true },
      projections: { ok: true, running: true, lag: '0' },
    });
    expect(body.projections.checkpoint).toBe(body.eventStore.headPosition);
  });

  it('serves the OpenAPI document and its UI at /docs', async () => {
    const ui = await api.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    const doc = (await get('/docs/json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/v1/users/{userId}',
        '/v1/cards/{cardId}',
        '/v1/cards/{cardId}/events',
        '/v1/stores/{storeId}/sync',
        '/v1/stores',
        '/healthz',
      ]),
    );
    const limit = doc.paths['/v1/cards/{cardId}/events'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', schema: { maximum: 500 } });
  });

  it('a personal-data read whose access record cannot be written is not served: 503, nothing shown', async () => {
    // Head office's writer on its own connection to the event store, which then goes away.
    const second = SqliteEventStore.open(join(dir, 'events.db'));
    const writer = await HqWriter.open({ store: second, signingKey: generateSigningKey() });
    await second.close();
    const broken = await buildApi({ store, runner, access: headOfficeAccess(dir, writer) });
    try {
      const response = await broken.inject({
        method: 'GET',
        url: '/v1/users/u1',
        headers: { authorization: `Bearer ${await tokenFor(dir, 'clerk')}` },
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({
        error: 'not_recorded',
        message: expect.stringMatching(/^the request was not served: head office could not record it/),
      });
      expect(response.body).not.toContain('Name u1');
    } finally {
      await broken.close();
    }
  });

  it('refuses to start with a route that names no roles in ROUTE_ACCESS', async () => {
    const writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
    const unlisted = async (app: FastifyInstance) => {
      app.get('/v1/secrets', async () => ({ secret: 42 }));
    };
    await expect(buildApi({ store, runner, plugins: [unlisted], access: headOfficeAccess(dir, writer) })).rejects.toThrow(
      'route GET /v1/secrets has no entry in ROUTE_ACCESS (host/api/access-policy.ts)',
    );
  });

  it('GET /healthz turns 503 when NATS is gone', async () => {
    await nats.stop();
    const { status, body } = await get('/healthz');
    expect(status).toBe(503);
    expect(body).toMatchObject({ status: 'degraded', nats: { ok: false }, eventStore: { ok: true } });
    await nats.start();
  });
});
