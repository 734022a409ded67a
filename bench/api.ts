// Head office API figures: p50/p99 of a request over HTTP (loopback, keep-alive) with the bearer
// token verified (Ed25519 JWT through jose, as `cardsys host` runs: a token seen before is
// remembered until it expires; `freshToken` sends a new one every time, so each is verified in
// full) and with verification off (an authenticator that names the caller without looking at the
// token), on the same routes, event store and read models: a read without personal data, and a
// personal-data read, which also appends its access record to the hq chain before it is served.
// Beside them: jose's verification alone, and a bare fastify route with no hooks at all.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { buildApi, headOfficeAccess, mintApiToken, ROLES, tokenFor, type Authenticator } from '../host/api/index.js';
import { SqliteEventStore } from '../eventstore/index.js';
import { HqWriter } from '../host/hq-writer/index.js';
import { provisionHeadOffice } from '../host/provisioning/index.js';
import { ProjectionRunner, projections } from '../projections/index.js';
import { latency, type Latency } from './latency.js';

export interface ApiBenchOptions {
  /** Requests per route and mode. */
  requests?: number;
  progress?: (message: string) => void;
}

const CARD = '00000000000000b1';

/** Verification off: every request is taken to come from this caller, whatever its token says. */
const unverified: Authenticator = {
  issuer: 'bench (tokens not verified)',
  audience: 'bench',
  authenticate: async () => ({ subject: 'bench', issuer: 'bench', roles: [...ROLES] }),
};

/** Milliseconds of one GET, its answer read to the end. */
async function timedGet(url: string, token: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${await response.text()}`);
  await response.arrayBuffer();
  return performance.now() - started;
}

/**
 * `count` rounds of one request in each mode, the modes taking turns, so that whatever else the
 * machine does at a moment falls on every mode alike. A mode's token is one for every request or one per round.
 */
async function rounds(count: number, modes: Record<string, { url: string; token: string | string[] }>): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((mode) => [mode, []]));
  for (let i = 0; i < count; i++) {
    for (const [mode, { url, token }] of Object.entries(modes))
      samples[mode]!.push(await timedGet(url, typeof token === 'string' ? token : token[i]!));
  }
  return samples;
}

const overhead = (on: Latency, off: Latency) => ({
  p50Ms: Math.round((on.p50Ms - off.p50Ms) * 1000) / 1000,
  p99Ms: Math.round((on.p99Ms - off.p99Ms) * 1000) / 1000,
});

export async function benchApi(context: { progress?: (message: string) => void; events?: number } = {}, options: ApiBenchOptions = {}) {
  const requests = options.requests ?? context.events ?? 2000;
  const progress = options.progress ?? context.progress ?? (() => undefined);
  const root = mkdtempSync(join(tmpdir(), 'cardsys-bench-api-'));
  const hqDir = join(root, 'hq');
  const headOffice = provisionHeadOffice({ hqDataDir: hqDir });
  const store = SqliteEventStore.open(join(hqDir, 'events.db'));
  const runner = ProjectionRunner.open({ file: join(hqDir, 'readmodels.db'), store, projections });
  runner.start();
  const writer = await HqWriter.open({ store, signingKey: headOffice.signingKey });
  const apis: Array<{ close(): Promise<void> }> = [];
  try {
    await writer.append([
      { event: { type: 'StoreRegistered', data: { storeId: 'A', name: 'Store A', nearbyStoreIds: [] } }, streamId: 'store-A' },
      {
        event: {
          type: 'CardPrimaryIssued',
          data: { cardId: CARD, userId: 'u1', bankId: '00011231234567', expiry: '2031-11-30', keyVersion: 1 },
        },
        streamId: `card-${CARD}`,
      },
    ]);
    await runner.waitForPosition((await store.headPosition())!);

    const serve = async (authenticator?: Authenticator) => {
      const access = headOfficeAccess(hqDir, writer);
      const api = await buildApi({ store, runner, access: authenticator ? { ...access, authenticator } : access });
      apis.push(api);
      return api.listen({ host: '127.0.0.1', port: 0 });
    };
    const verifiedUrl = await serve();
    const unverifiedUrl = await serve(unverified);
    const bare = Fastify();
    bare.get('/v1/stores/:storeId/sync', async () => ({ storeId: 'A' }));
    apis.push(bare);
    const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
    const viewer = await tokenFor(hqDir, 'viewer', 'bench-viewer');
    const clerk = await tokenFor(hqDir, 'clerk', 'bench-clerk');

    const routes = { read: '/v1/stores/A/sync', personalRead: `/v1/cards/${CARD}` } as const;
    const fresh = async (role: 'viewer' | 'clerk') => {
      const key = headOffice.apiTokenKey;
      return Promise.all(
        Array.from({ length: requests }, (_, i) =>
          mintApiToken(key, { subject: `bench-${role}-${i}`, roles: [role] }).then((minted) => minted.token),
        ),
      );
    };
    const freshTokens = { read: await fresh('viewer'), personalRead: await fresh('clerk') };
    const samples = {} as Record<keyof typeof routes, Record<string, number[]>>;
    for (const [name, path] of Object.entries(routes) as Array<[keyof typeof routes, string]>) {
      const token = name === 'read' ? viewer : clerk;
      const modes = {
        on: { url: `${verifiedUrl}${path}`, token },
        fresh: { url: `${verifiedUrl}${path}`, token: freshTokens[name] },
        off: { url: `${unverifiedUrl}${path}`, token },
        ...(name === 'read' ? { bare: { url: `${bareUrl}${path}`, token } } : {}),
      };
      progress(
        `${requests} × GET ${path} as ${name === 'read' ? 'a viewer' : 'a clerk'} in each mode: token verified, a fresh token each time, verification off`,
      );
      await rounds(Math.min(100, requests), { ...modes, fresh: { ...modes.on } });
      samples[name] = await rounds(requests, modes);
    }

    // jose alone, on tokens it has not seen: what a request with a new token pays for.
    const { authenticator } = headOfficeAccess(hqDir, writer);
    const verifyStarted = performance.now();
    for (const token of freshTokens.read) await authenticator.authenticate(`Bearer ${token}`);
    const verifyMs = performance.now() - verifyStarted;

    const figures = (name: keyof typeof routes) => {
      const on = latency(samples[name].on!);
      const fresh = latency(samples[name].fresh!);
      const off = latency(samples[name].off!);
      return {
        verified: on,
        freshToken: fresh,
        unverified: off,
        verificationCost: overhead(on, off),
        freshTokenCost: overhead(fresh, off),
      };
    };
    return {
      requests,
      /** GET /v1/stores/A/sync as a viewer: no personal data, nothing recorded. */
      read: figures('read'),
      /** GET /v1/cards/:cardId as a clerk: personal data, its access record appended to hq (fsynced) before the answer. */
      personalRead: figures('personalRead'),
      /** The same request to a bare fastify route with no hooks: the floor of an HTTP round trip here. */
      bareFastify: latency(samples.read.bare!),
      jwtVerify: { perSecond: Math.round(requests / (verifyMs / 1000)), meanMs: Math.round((verifyMs / requests) * 1000) / 1000 },
    };
  } finally {
    for (const api of apis) await api.close();
    await runner.close();
    await store.close();
    rmSync(root, { recursive: true, force: true });
  }
}
