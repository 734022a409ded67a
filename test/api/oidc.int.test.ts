// Head office's API with an OIDC issuer: tokens are checked against the keys the issuer publishes
// on a real JWKS HTTP server started here, with the issuer, audience and roles claim head office
// is configured with; head office's own tokens are then refused.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIssuerMasterKeys } from '../../card/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { buildApi, headOfficeAccess, tokenFor } from '../../host/api/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { freePort } from '../../infra/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { ProjectionRunner, projections } from '../../projections/index.js';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'cardsys.js');
const quiet = { info() {}, warn() {}, error: (message: unknown) => console.error(message) };
const AUDIENCE = 'cardsys-hq-api';
const ROLES_CLAIM = 'cardsys_roles';
const CARD = '00000000000000d1';

let root: string;
let jwks: Server;
let jwksFetches = 0;
let issuer: string;
let idpKey: CryptoKey;
let nats: NatsServer;
let host: HostNode;

/** A token as the issuer would sign it, with whatever the test changes. */
function idpToken(
  claims: {
    sub?: string;
    roles?: string[];
    aud?: string;
    iss?: string;
    key?: CryptoKey;
    kid?: string;
    extra?: Record<string, unknown>;
  } = {},
) {
  return new SignJWT({ [ROLES_CLAIM]: claims.roles ?? ['operator'], ...claims.extra })
    .setProtectedHeader({ alg: 'RS256', kid: claims.kid ?? 'idp-key-1' })
    .setIssuer(claims.iss ?? issuer)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject(claims.sub ?? 'hanako@example.com')
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(claims.key ?? idpKey);
}

async function call(method: string, path: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${host.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  return { status: response.status, body: (await response.json()) as any };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-api-oidc-'));
  const pair = await generateKeyPair('RS256');
  idpKey = pair.privateKey;
  const publicJwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'idp-key-1', alg: 'RS256', use: 'sig' };
  jwks = createServer((request, response) => {
    if (request.url !== '/realms/cardsys/jwks') {
      response.writeHead(404).end();
      return;
    }
    jwksFetches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const { port } = jwks.address() as { port: number };
  issuer = `http://127.0.0.1:${port}/realms/cardsys`;
  nats = await startNatsServer({ dataDir: join(root, 'nats') });
  host = await startHost({
    dataDir: join(root, 'hq'),
    natsUrl: nats.url,
    http: { host: '127.0.0.1', port: 0 },
    issuerKeys: generateIssuerMasterKeys(1),
    api: { oidc: { issuer, jwksUrl: `${issuer}/jwks`, audience: AUDIENCE, rolesClaim: ROLES_CLAIM } },
    logger: quiet,
  });
  await host.hqWriter.append([
    {
      event: {
        type: 'CardPrimaryIssued',
        data: { cardId: CARD, userId: 'u1', bankId: '00011231234567', expiry: '2031-11-30', keyVersion: 1 },
      },
      streamId: `card-${CARD}`,
    },
  ]);
});

afterAll(async () => {
  await host?.stop();
  await nats?.stop();
  await new Promise((resolve) => jwks?.close(resolve));
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('an API that accepts the tokens of an OIDC issuer', () => {
  it("serves the issuer's callers in their roles and records their writes under the issuer's name", async () => {
    expect((await call('GET', '/v1/stores', await idpToken())).status).toBe(200);
    expect(jwksFetches).toBeGreaterThan(0);
    const listed = await call('POST', `/v1/cards/${CARD}/blacklist`, await idpToken(), { reason: 'reported stolen' });
    expect(listed.status).toBe(201);
    const log = await call('GET', '/v1/access-log', await idpToken({ sub: 'auditor@example.com', roles: ['auditor'] }));
    expect(log.body.entries).toMatchObject([
      { subject: 'hanako@example.com', issuer, role: 'operator', route: '/v1/cards/:cardId/blacklist', ids: { cardId: CARD } },
    ]);
  });

  it.each([
    ['a token for another audience', () => idpToken({ aud: 'another-app' }), 'wrong_audience'],
    ["a token of another realm of the same issuer's keys", () => idpToken({ iss: `${issuer}-other` }), 'wrong_issuer'],
    [
      'a token signed by another key under the same key id',
      async () => idpToken({ key: (await generateKeyPair('RS256')).privateKey }),
      'bad_signature',
    ],
    [
      "head office's own token (not accepted once an OIDC issuer is configured)",
      () => tokenFor(join(root, 'hq'), 'operator'),
      'bad_signature',
    ],
  ])('refuses %s with 401 and writes nothing', async (_what, token, reason) => {
    const before = await host.store.headPosition();
    const answer = await call('POST', `/v1/cards/${CARD}/blacklist`, await token(), { reason: 'x' });
    expect(answer.status).toBe(401);
    expect(answer.body).toMatchObject({ error: 'unauthenticated', reason, accepts: { issuer, audience: AUDIENCE } });
    expect(await host.store.headPosition()).toBe(before);
  });

  it('reads the roles from the configured claim only', async () => {
    const answer = await call('GET', '/v1/stores', await idpToken({ roles: [], extra: { roles: ['auditor'] } }));
    expect(answer.status).toBe(403);
    expect(answer.body).toMatchObject({ error: 'forbidden', roles: [] });
    expect((await call('GET', '/v1/stores', await idpToken({ roles: ['viewer', 'payroll'] }))).status).toBe(200);
  });
});

describe('an issuer whose keys cannot be fetched', () => {
  it('answers 503 naming the issuer: the caller is not at fault, and nothing is served', async () => {
    const dir = join(root, 'unreachable');
    const store = SqliteEventStore.open(join(dir, 'events.db'));
    const runner = ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store, projections });
    const writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
    const closed = `http://127.0.0.1:${await freePort()}/jwks`;
    const api = await buildApi({
      store,
      runner,
      access: headOfficeAccess(dir, writer, { oidc: { issuer, jwksUrl: closed, audience: AUDIENCE } }),
    });
    try {
      const answer = await api.inject({ method: 'GET', url: '/v1/stores', headers: { authorization: `Bearer ${await idpToken()}` } });
      expect(answer.statusCode).toBe(503);
      expect(answer.json()).toMatchObject({ error: 'token_keys_unavailable', message: expect.stringContaining(issuer) });
    } finally {
      await api.close();
      await runner.close();
      await store.close();
    }
  });
});

describe('cardsys host --oidc-*', () => {
  it('needs the issuer, its keys and the audience together', () => {
    const run = spawnSync(process.execPath, [CLI, 'host', '--data', join(root, 'cli'), '--oidc-issuer', issuer], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(
      'an OIDC issuer needs --oidc-issuer, --oidc-jwks and --oidc-audience; missing --oidc-jwks, --oidc-audience',
    );
  });
});
