// Head office's API against anonymous and wrong-role callers, over HTTP on the real head office
// process (`startHost`: real nats-server, SQLite event store, hq writer, read models). Attackers use
// their own real credentials: no token, a malformed one, an expired one, one signed by another key,
// one for another audience, and real tokens of the wrong roles. Refused requests leave the event
// store as it was; every write and every personal-data read leaves an ApiAccessRecorded in `hq`.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIssuerMasterKeys } from '../../card/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { decodeEnvelope, decodeEvent } from '../../contracts/index.js';
import { API_TOKEN_AUDIENCE, API_TOKEN_ISSUER, mintApiToken, ROLES, ROUTE_ACCESS, tokenFor, type Role } from '../../host/api/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { loadOrCreateApiTokenKey } from '../../host/provisioning/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'cardsys.js');
const quiet = { info() {}, warn() {}, error: (message: unknown) => console.error(message) };
const WRITES_PER_MINUTE = 40;

/** The route → roles table the brief asks for, written out here so the test does not just read the code's table back. */
const EXPECTED: Record<string, { roles: Role[] | 'public'; writes?: true; personal?: true }> = {
  'GET /healthz': { roles: 'public' },
  'POST /v1/applications': { roles: ['clerk'], writes: true },
  'POST /v1/users/:userId/cards': { roles: ['clerk'], writes: true },
  'GET /v1/users/:userId': { roles: ['clerk', 'auditor'], personal: true },
  'GET /v1/cards/:cardId': { roles: ['clerk', 'operator', 'auditor', 'viewer'], personal: true },
  'GET /v1/cards/:cardId/events': { roles: ['auditor'], personal: true },
  'GET /v1/cards/:cardId/purse': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'POST /v1/cards/:cardId/blacklist': { roles: ['operator'], writes: true },
  'DELETE /v1/cards/:cardId/blacklist': { roles: ['operator'], writes: true },
  'POST /v1/cards/:cardId/loss': { roles: ['operator', 'clerk'], writes: true },
  'POST /v1/cards/:cardId/replacement': { roles: ['clerk'], writes: true },
  'GET /v1/cards/:cardId/replacement': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/alerts': { roles: ['operator', 'auditor', 'viewer'] },
  'GET /v1/stores': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/stores/:storeId/sync': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'POST /v1/bank-accounts': { roles: ['bank-feed'], writes: true },
  'GET /v1/bank-accounts/:bankId': { roles: ['bank-feed', 'auditor'] },
  'GET /v1/access-log': { roles: ['auditor'] },
  'GET /v1/stores/:storeId/settlements': { roles: ['operator', 'auditor'] },
  'GET /v1/float': { roles: ['operator', 'auditor'] },
  'GET /v1/float/cards': { roles: ['operator', 'auditor'] },
  'GET /v1/float/base-dates': { roles: ['operator', 'auditor'] },
  'GET /v1/cards/:cardId/statement': { roles: ['clerk', 'auditor'], personal: true },
  'GET /v1/loads': { roles: ['operator', 'auditor'] },
  'GET /': { roles: 'public' },
  'GET /console': { roles: 'public' },
  'GET /console/*': { roles: 'public' },
  'GET /metrics': { roles: 'public' },
  'GET /v1/overview': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/overview/stream': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/activity': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/stores/:storeId/activity': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'GET /v1/cards': { roles: ['clerk', 'operator', 'auditor', 'viewer'], personal: true },
  'GET /v1/cards/:cardId/timeline': { roles: ['clerk', 'operator', 'auditor', 'viewer'] },
  'POST /v1/alerts/:alertId/resolution': { roles: ['operator'], writes: true },
};
const guarded = Object.entries(EXPECTED).filter(([, rule]) => rule.roles !== 'public') as Array<
  [string, { roles: Role[]; writes?: true; personal?: true }]
>;

const CARD = '00000000000000c1';
const NOT_ISSUED = '00000000000000f9';
let serial = 0;
/** Fresh, valid input for one call of a route, and the status its allowed callers get. */
const probes: Record<string, () => { path: string; body?: unknown; ok: number }> = {
  'POST /v1/applications': () => ({
    path: '/v1/applications',
    body: {
      personal: { name: 'Jiro Sato', address: '1-1 Kita, Sapporo', birthDate: '1980-01-01' },
      bank: { bankCode: '0002', branchCode: '002', accountNumber: String(++serial).padStart(7, '0') },
      homeStoreId: 'A',
    },
    ok: 201,
  }),
  // Head office runs without an issuance station here: the allowed caller is told so (the issuance itself is tested with pcscd).
  'POST /v1/users/:userId/cards': () => ({ path: `/v1/users/${userId}/cards`, body: { pin: '1234' }, ok: 503 }),
  'GET /v1/users/:userId': () => ({ path: `/v1/users/${userId}`, ok: 200 }),
  'GET /v1/cards/:cardId': () => ({ path: `/v1/cards/${CARD}`, ok: 200 }),
  'GET /v1/cards/:cardId/events': () => ({ path: `/v1/cards/${CARD}/events`, ok: 200 }),
  'GET /v1/cards/:cardId/purse': () => ({ path: `/v1/cards/${CARD}/purse`, ok: 200 }),
  'POST /v1/cards/:cardId/blacklist': () => ({ path: `/v1/cards/${CARD}/blacklist`, body: { reason: 'lost' }, ok: 201 }),
  'DELETE /v1/cards/:cardId/blacklist': () => ({ path: `/v1/cards/${CARD}/blacklist`, body: { reason: 'found' }, ok: 200 }),
  // A card head office never issued: the allowed callers are told so; a lost card replaced is tested in test/purse/card-replacement.e2e.test.ts.
  'POST /v1/cards/:cardId/loss': () => ({ path: `/v1/cards/${NOT_ISSUED}/loss`, body: { reason: 'lost' }, ok: 404 }),
  'POST /v1/cards/:cardId/replacement': () => ({ path: `/v1/cards/${NOT_ISSUED}/replacement`, body: {}, ok: 409 }),
  'GET /v1/cards/:cardId/replacement': () => ({ path: `/v1/cards/${NOT_ISSUED}/replacement`, ok: 404 }),
  'GET /v1/alerts': () => ({ path: '/v1/alerts', ok: 200 }),
  'GET /v1/stores': () => ({ path: '/v1/stores', ok: 200 }),
  'GET /v1/stores/:storeId/sync': () => ({ path: '/v1/stores/A/sync', ok: 200 }),
  'POST /v1/bank-accounts': () => ({
    path: '/v1/bank-accounts',
    body: { bankCode: '0003', branchCode: '003', accountNumber: String(++serial).padStart(7, '0'), balance: 1000 },
    ok: 201,
  }),
  'GET /v1/bank-accounts/:bankId': () => ({ path: '/v1/bank-accounts/00030030000000', ok: 200 }),
  'GET /v1/access-log': () => ({ path: '/v1/access-log', ok: 200 }),
  'GET /v1/stores/:storeId/settlements': () => ({ path: '/v1/stores/A/settlements', ok: 200 }),
  'GET /v1/float': () => ({ path: '/v1/float', ok: 200 }),
  'GET /v1/float/cards': () => ({ path: '/v1/float/cards', ok: 200 }),
  'GET /v1/float/base-dates': () => ({ path: '/v1/float/base-dates?year=2025', ok: 200 }),
  // The card has no purse movement here (a store writes those): the allowed caller is told so; statements are tested in test/books.
  'GET /v1/cards/:cardId/statement': () => ({ path: `/v1/cards/${CARD}/statement`, ok: 404 }),
  'GET /v1/loads': () => ({ path: '/v1/loads', ok: 200 }),
  'GET /v1/overview': () => ({ path: '/v1/overview', ok: 200 }),
  'GET /v1/overview/stream': () => ({ path: '/v1/overview/stream', ok: 200 }),
  'GET /v1/activity': () => ({ path: '/v1/activity', ok: 200 }),
  'GET /v1/stores/:storeId/activity': () => ({ path: '/v1/stores/A/activity', ok: 200 }),
  'GET /v1/cards': () => ({ path: `/v1/cards?userId=${userId}`, ok: 200 }),
  'GET /v1/cards/:cardId/timeline': () => ({ path: `/v1/cards/${CARD}/timeline`, ok: 200 }),
  // No alert is open here: the allowed caller is told so; resolving one is tested in test/console.
  'POST /v1/alerts/:alertId/resolution': () => ({ path: '/v1/alerts/1/resolution', body: { note: 'looked into' }, ok: 404 }),
};

let root: string;
let hqDir: string;
let nats: NatsServer;
let host: HostNode;
let userId: string;
const tokens = new Map<Role, string>();
/** Every (route, status) answered in this file, to hold against the OpenAPI document at the end. */
const answered = new Set<string>();

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function call(route: string, options: { path: string; body?: unknown; token?: string; authorization?: string }): Promise<Answer> {
  const method = route.split(' ')[0]!;
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const authorization = options.authorization ?? (options.token ? `Bearer ${options.token}` : undefined);
  if (authorization) headers.authorization = authorization;
  const response = await fetch(`${host.url}${options.path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  answered.add(`${route} ${response.status}`);
  return { status: response.status, body: await bodyOf(response), headers: response.headers };
}

/** The JSON body, or a server-sent event stream's first event (the stream is then closed). */
async function bodyOf(response: Response): Promise<unknown> {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return response.json();
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!text.includes('\n\n')) text += (await reader.read()).value ?? '';
  await reader.cancel();
  return JSON.parse(text.slice(text.indexOf('data:') + 5, text.indexOf('\n\n')));
}

const as = (role: Role) => tokens.get(role)!;
const hqRecords = () => host.store.readStream('hq');
const accessRecords = async () =>
  (await hqRecords())
    .filter((record) => record.type === 'ApiAccessRecorded')
    .map((record) => {
      const envelope = decodeEnvelope(record.data);
      return { eventId: envelope.eventId, ...(decodeEvent(envelope.eventType, envelope.payload).data as Record<string, any>) };
    });

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-api-access-'));
  hqDir = join(root, 'hq');
  nats = await startNatsServer({ dataDir: join(root, 'nats') });
  host = await startHost({
    dataDir: hqDir,
    natsUrl: nats.url,
    http: { host: '127.0.0.1', port: 0 },
    issuerKeys: generateIssuerMasterKeys(1),
    api: { writeRateLimit: { max: WRITES_PER_MINUTE, windowMs: 60_000 } },
    logger: quiet,
  });
  for (const role of ROLES) tokens.set(role, await tokenFor(hqDir, role, `${role}-1`));
  const applied = await call('POST /v1/applications', { ...probes['POST /v1/applications']!(), token: as('clerk') });
  expect(applied.status).toBe(201);
  userId = applied.body.userId;
  // Primary issuance needs a reader; head office's writer records the card as the route would.
  await host.hqWriter.append([
    {
      event: {
        type: 'CardPrimaryIssued',
        data: { cardId: CARD, userId, bankId: applied.body.bankId, expiry: '2031-11-30', keyVersion: 1 },
      },
      streamId: `card-${CARD}`,
    },
  ]);
  await host.hqWriter.append([
    { event: { type: 'StoreRegistered', data: { storeId: 'A', name: 'Store A', nearbyStoreIds: [] } }, streamId: 'store-A' },
  ]);
  const opened = await call('POST /v1/bank-accounts', {
    path: '/v1/bank-accounts',
    body: { bankCode: '0003', branchCode: '003', accountNumber: '0000000', balance: 5000 },
    token: as('bank-feed'),
  });
  expect(opened.status).toBe(201);
  await host.runner.waitForPosition((await host.store.headPosition())!);
});

afterAll(async () => {
  await host?.stop();
  await nats?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('the route → roles table', () => {
  it('is the one the code enforces, and covers every route the API serves', () => {
    expect(
      Object.fromEntries(
        Object.entries(ROUTE_ACCESS).map(([route, rule]) => [
          route,
          { roles: rule.roles, ...(rule.writes ? { writes: true } : {}), ...(rule.personal ? { personal: true } : {}) },
        ]),
      ),
    ).toEqual(EXPECTED);
    expect(Object.keys(probes).sort()).toEqual(guarded.map(([route]) => route).sort());
  });
});

describe('callers without a valid token get 401 on every guarded route and change nothing', () => {
  const otherKey = generateSigningKey();
  const attackers: Array<[string, () => Promise<{ token?: string; authorization?: string }>, string]> = [
    ['no token', async () => ({}), 'missing'],
    ['a Basic header', async () => ({ authorization: 'Basic Y2xlcms6cGFzc3dvcmQ=' }), 'malformed'],
    ['a token that is not a JWT', async () => ({ token: 'not-a-jwt' }), 'malformed'],
    [
      'an expired clerk token',
      async () => ({
        token: (
          await mintApiToken(loadOrCreateApiTokenKey(hqDir).key, {
            subject: 'old-clerk',
            roles: ['clerk'],
            ttlSeconds: 3600,
            now: new Date(Date.now() - 2 * 3600_000),
          })
        ).token,
      }),
      'expired',
    ],
    [
      'an auditor token signed by another key',
      async () => ({ token: (await mintApiToken(otherKey, { subject: 'mallory', roles: [...ROLES] })).token }),
      'bad_signature',
    ],
    [
      "a token of head office's key meant for another audience",
      async () => ({
        token: await new SignJWT({ roles: ['auditor'] })
          .setProtectedHeader({ alg: 'EdDSA' })
          .setIssuer(API_TOKEN_ISSUER)
          .setAudience('some-other-api')
          .setSubject('auditor-elsewhere')
          .setIssuedAt()
          .setExpirationTime('1h')
          .sign(loadOrCreateApiTokenKey(hqDir).key.privateKey),
      }),
      'wrong_audience',
    ],
    [
      'a token signed with a shared secret (alg HS256)',
      async () => ({
        token: await new SignJWT({ roles: ['auditor'] })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(API_TOKEN_ISSUER)
          .setAudience(API_TOKEN_AUDIENCE)
          .setSubject('forger')
          .setExpirationTime('1h')
          .sign(new TextEncoder().encode('x'.repeat(32))),
      }),
      'bad_signature',
    ],
  ];

  it.each(attackers)('%s', async (_what, credentials, reason) => {
    const before = { head: await host.store.headPosition(), hq: (await hqRecords()).length };
    for (const [route] of guarded) {
      const answer = await call(route, { ...probes[route]!(), ...(await credentials()) });
      expect(answer.status, route).toBe(401);
      expect(answer.body, route).toMatchObject({
        error: 'unauthenticated',
        reason,
        message: expect.any(String),
        accepts: { issuer: API_TOKEN_ISSUER, audience: API_TOKEN_AUDIENCE },
      });
      expect(answer.headers.get('www-authenticate'), route).toMatch(/^Bearer realm="cardsys"/);
    }
    expect({ head: await host.store.headPosition(), hq: (await hqRecords()).length }).toEqual(before);
  });

  it('an unknown route asked anonymously is 401 too (nothing learnt about which routes exist); with a token, 404', async () => {
    expect((await call('GET /v1/nowhere', { path: '/v1/nowhere' })).status).toBe(401);
    expect((await call('GET /v1/nowhere', { path: '/v1/nowhere', token: as('viewer') })).body).toMatchObject({ error: 'not_found' });
  });

  it('/healthz and /docs stay public', async () => {
    expect((await call('GET /healthz', { path: '/healthz' })).status).toBe(200);
    expect((await fetch(`${host.url}/docs/json`)).status).toBe(200);
    expect((await fetch(`${host.url}/docs/`)).status).toBe(200);
  });
});

describe('roles', () => {
  it('every role a route does not list gets 403 naming the roles it needs, and nothing is written', async () => {
    const before = { head: await host.store.headPosition(), hq: (await hqRecords()).length };
    for (const [route, rule] of guarded) {
      for (const role of ROLES.filter((role) => !rule.roles.includes(role))) {
        const answer = await call(route, { ...probes[route]!(), token: as(role) });
        expect(answer.status, `${role} on ${route}`).toBe(403);
        expect(answer.body).toMatchObject({
          error: 'forbidden',
          requiredRoles: rule.roles,
          roles: [role],
          message: expect.stringContaining(`${role}-1`),
        });
      }
    }
    expect({ head: await host.store.headPosition(), hq: (await hqRecords()).length }).toEqual(before);
  });

  it('a token with no role this API knows is a known caller: 403', async () => {
    const stranger = await new SignJWT({ roles: ['admin', 'root'] })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer(API_TOKEN_ISSUER)
      .setAudience(API_TOKEN_AUDIENCE)
      .setSubject('stranger')
      .setExpirationTime('1h')
      .sign(loadOrCreateApiTokenKey(hqDir).key.privateKey);
    const answer = await call('GET /v1/stores', { path: '/v1/stores', token: stranger });
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'forbidden', roles: [], message: expect.stringContaining('holds no role this API knows') });
  });

  it('each role is served on every route it is listed for; each write and personal-data read is recorded once, other reads not at all', async () => {
    for (const [route, rule] of guarded) {
      for (const role of rule.roles) {
        const probe = probes[route]!();
        const before = (await accessRecords()).length;
        const answer = await call(route, { ...probe, token: as(role) });
        expect(answer.status, `${role} on ${route}: ${JSON.stringify(answer.body)}`).toBe(probe.ok);
        const recorded = rule.writes || (rule.personal && ['clerk', 'auditor'].includes(role));
        const after = await accessRecords();
        expect(after.length - before, `${role} on ${route}`).toBe(recorded ? 1 : 0);
        if (recorded) {
          const [method, path] = route.split(' ');
          expect(after.at(-1)).toMatchObject({
            subject: `${role}-1`,
            issuer: API_TOKEN_ISSUER,
            role,
            method,
            route: path,
            access: rule.writes ? 'write' : 'personal_read',
            remoteAddress: '127.0.0.1',
          });
        }
      }
    }
  });

  it('a viewer and an operator see a card without its bank account; a clerk sees it all', async () => {
    for (const role of ['viewer', 'operator'] as const) {
      const card = await call('GET /v1/cards/:cardId', { path: `/v1/cards/${CARD}`, token: as(role) });
      expect(card.body).toMatchObject({ cardId: CARD, userId, blacklisted: false, withheld: ['bankId'] });
      expect(card.body).not.toHaveProperty('bankId');
    }
    const card = await call('GET /v1/cards/:cardId', { path: `/v1/cards/${CARD}`, token: as('clerk') });
    expect(card.body).toMatchObject({ cardId: CARD, userId, bankId: expect.stringMatching(/^\d{14}$/), blacklisted: false });
    expect(card.body).not.toHaveProperty('withheld');
  });

  it('a bank account shows its balance to the bank feed', async () => {
    const account = await call('GET /v1/bank-accounts/:bankId', { path: '/v1/bank-accounts/00030030000000', token: as('bank-feed') });
    expect(account).toMatchObject({ status: 200, body: { bankId: '00030030000000', balance: 5000 } });
  });
});

describe('GET /v1/access-log', () => {
  it('lists the entries with subject, role, route, ids, time and address; filters by subject and time', async () => {
    const started = new Date().toISOString();
    const listed = await call('POST /v1/cards/:cardId/blacklist', {
      path: `/v1/cards/${CARD}/blacklist`,
      body: { reason: 'stolen' },
      token: as('operator'),
    });
    expect(listed.status).toBe(201);
    await call('DELETE /v1/cards/:cardId/blacklist', {
      path: `/v1/cards/${CARD}/blacklist`,
      body: { reason: 'found' },
      token: as('operator'),
    });
    const log = await call('GET /v1/access-log', { path: `/v1/access-log?subject=operator-1&from=${started}`, token: as('auditor') });
    expect(log.status).toBe(200);
    expect(log.body.entries).toMatchObject([
      {
        subject: 'operator-1',
        role: 'operator',
        access: 'write',
        method: 'POST',
        route: '/v1/cards/:cardId/blacklist',
        ids: { cardId: CARD },
        remoteAddress: '127.0.0.1',
      },
      { subject: 'operator-1', method: 'DELETE', route: '/v1/cards/:cardId/blacklist', ids: { cardId: CARD } },
    ]);
    expect(log.body.entries[0].at >= started).toBe(true);
    expect(log.body.entries[0].tokenId).toMatch(/^[0-9a-f-]{36}$/);

    const accounts = await call('GET /v1/access-log', { path: '/v1/access-log?subject=bank-feed-1', token: as('auditor') });
    expect(accounts.body.entries[0]).toMatchObject({ route: '/v1/bank-accounts', ids: { bankId: '00030030000000' } });
    const before = await call('GET /v1/access-log', { path: `/v1/access-log?subject=operator-1&to=${started}`, token: as('auditor') });
    expect(before.body.entries.every((entry: { at: string }) => entry.at < started)).toBe(true);
    const page = await call('GET /v1/access-log', { path: '/v1/access-log?limit=2', token: as('auditor') });
    expect(page.body.entries).toHaveLength(2);
    const next = await call('GET /v1/access-log', { path: `/v1/access-log?limit=2&after=${page.body.next}`, token: as('auditor') });
    expect(next.body.entries[0].position).not.toBe(page.body.entries[1].position);
    expect((await call('GET /v1/access-log', { path: '/v1/access-log?from=yesterday', token: as('auditor') })).body).toMatchObject({
      error: 'bad_request',
      field: 'from',
    });
  });
});

describe('write rate limit', () => {
  it(`answers 429 with a message once a caller has written ${WRITES_PER_MINUTE} times in a minute; the refused write leaves nothing; other callers go on`, async () => {
    const flood = await tokenFor(hqDir, 'bank-feed', 'flooding-feed');
    for (let i = 0; i < WRITES_PER_MINUTE; i++)
      expect((await call('POST /v1/bank-accounts', { ...probes['POST /v1/bank-accounts']!(), token: flood })).status).toBe(201);
    const before = { head: await host.store.headPosition() };
    const refused = await call('POST /v1/bank-accounts', {
      path: '/v1/bank-accounts',
      body: { bankCode: '0004', branchCode: '004', accountNumber: '4444444', balance: 1 },
      token: flood,
    });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({
      error: 'rate_limited',
      message: expect.stringMatching(/at most 40 per 1 min for "flooding-feed"; retry in/),
      retryAfterSeconds: expect.any(Number),
    });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect({ head: await host.store.headPosition() }).toEqual(before);
    expect((await call('GET /v1/bank-accounts/:bankId', { path: '/v1/bank-accounts/00040044444444', token: as('auditor') })).status).toBe(
      404,
    );
    expect((await call('POST /v1/bank-accounts', { ...probes['POST /v1/bank-accounts']!(), token: as('bank-feed') })).status).toBe(201);
  });
});

/** A route's path as the OpenAPI document names it: parameters in braces, a wildcard as {*}. */
const documented = (path: string) => path.replace(/:(\w+)/g, '{$1}').replace(/\*$/, '{*}');

describe('the OpenAPI document', () => {
  it("names the bearer scheme and each route's roles, has a schema for every body, and documents every status answered in this file", async () => {
    const doc = (await (await fetch(`${host.url}/docs/json`)).json()) as any;
    expect(doc.components.securitySchemes.bearerToken).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    for (const [route, rule] of Object.entries(EXPECTED)) {
      const [method, path] = route.split(' ');
      const operation = doc.paths[documented(path!)][method!.toLowerCase()];
      if (rule.roles === 'public') {
        expect(operation.security, route).toBeUndefined();
        continue;
      }
      expect(operation.security, route).toEqual([{ bearerToken: [] }]);
      expect(operation['x-roles'], route).toEqual(rule.roles);
      expect(operation.description, route).toContain(`Roles: ${rule.roles.join(', ')}.`);
      expect(Object.keys(operation.responses), route).toEqual(expect.arrayContaining(['401', '403', ...(rule.writes ? ['429'] : [])]));
      if (method === 'POST' || method === 'DELETE')
        expect(operation.requestBody?.content?.['application/json']?.schema?.properties, route).toBeDefined();
    }
    expect(Object.keys(doc.paths['/v1/bank-accounts'].post.responses)).toContain('201');
    expect(doc.paths['/v1/users/{userId}/cards'].post.requestBody.content['application/json'].schema).toMatchObject({
      additionalProperties: false,
      properties: { pin: {} },
    });
    const undocumented = [...answered].filter((entry) => {
      const [method, path, status] = entry.split(' ');
      const operation = doc.paths[documented(path!)]?.[method!.toLowerCase()];
      return operation && !operation.responses[status!];
    });
    expect(undocumented).toEqual([]);
  });
});

describe('cardsys host token', () => {
  const token = (...args: string[]) => spawnSync(process.execPath, [CLI, 'host', 'token', '--data', root, ...args], { encoding: 'utf8' });

  it('prints a token the running head office accepts; --json prints one object', async () => {
    const plain = token('--role', 'viewer', '--subject', 'cli-viewer');
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout.trim().split('.')).toHaveLength(3);
    expect(plain.stderr).toContain('token for "cli-viewer" (viewer), valid until');
    expect((await call('GET /v1/stores', { path: '/v1/stores', token: plain.stdout.trim() })).status).toBe(200);
    const json = token('--role', 'operator,viewer', '--subject', 'cli-operator', '--ttl', '30m', '--json');
    expect(json.stdout.trim().split('\n')).toHaveLength(1);
    const minted = JSON.parse(json.stdout);
    expect(minted).toMatchObject({
      subject: 'cli-operator',
      roles: ['operator', 'viewer'],
      issuer: API_TOKEN_ISSUER,
      audience: API_TOKEN_AUDIENCE,
    });
    expect(Date.parse(minted.expiresAt) - Date.parse(minted.issuedAt)).toBe(30 * 60_000);
  });

  it('refuses unknown roles, no role and bad lifetimes with a message naming the option', () => {
    expect(token('--role', 'admin', '--subject', 'x').stderr).toContain(
      '--role: unknown role "admin"; choose from clerk, operator, bank-feed, auditor, viewer',
    );
    expect(token('--subject', 'x').stderr).toContain('--role: name at least one role');
    const long = token('--role', 'viewer', '--subject', 'x', '--ttl', '400d');
    expect(long.status).not.toBe(0);
    expect(long.stderr).toContain('--ttl: at most 31 days');
  });
});

describe("the audit of a history holding the API's access records", () => {
  it('cardsys audit replay verifies it: chains, signatures and read models (the access log included); verify-event decodes a record', async () => {
    const records = await accessRecords();
    expect(records.length).toBeGreaterThan(10);
    await host.runner.waitForPosition((await host.store.headPosition())!);
    await host.stop();
    const replay = spawnSync(process.execPath, [CLI, 'audit', 'replay', '--data', root, '--json'], { encoding: 'utf8' });
    expect(replay.status, replay.stderr).toBe(0);
    const result = JSON.parse(replay.stdout);
    expect(result).toMatchObject({ ok: true, findings: [] });
    expect(result.origins.find((origin: { origin: string }) => origin.origin === 'hq').events).toBeGreaterThan(records.length);
    const verified = spawnSync(process.execPath, [CLI, 'audit', 'verify-event', records[0]!.eventId, '--data', root, '--json'], {
      encoding: 'utf8',
    });
    expect(verified.status, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({
      ok: true,
      event: { eventType: 'ApiAccessRecorded', data: { subject: 'clerk-1', route: '/v1/applications' } },
    });
  });
});
