// The head office process as `cardsys host` runs it: provisioned stores are registered at start,
// applications are taken, and the issuance snapshot reaches the store over NATS with its own
// credentials.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { generateIssuerMasterKeys } from '../../card/index.js';
import { decodeEnvelope, decodeEvent, loadPublicKey, loadSealingKey, loadSealingPublicKey, loadSigningKey } from '../../contracts/index.js';
import { IssuanceInfo } from '../../edge/issuance/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { tokenFor } from '../../host/api/index.js';
import { provisionHeadOffice, provisionStore, type ProvisionedStore, headOfficeFiles } from '../../host/provisioning/index.js';
import { natsConnectOptions, startNatsServer, type NatsServer, type HeadOfficePart } from '../../infra/nats/index.js';

const quiet = { info() {}, warn() {}, error: (message: unknown) => console.error(message) };
let root: string;
let server: NatsServer;
let host: HostNode;
let storeA: ProvisionedStore;
let edgeNc: NatsConnection;
let edgeDb: Database.Database;
let info: IssuanceInfo;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-issuance-host-'));
  const hqDataDir = join(root, 'hq');
  const headOffice = provisionHeadOffice({ hqDataDir });
  storeA = provisionStore({ hqDataDir, storeId: 'A', name: 'Store A', nearbyStoreIds: ['B'] });
  const storeB = provisionStore({ hqDataDir, storeId: 'B', name: 'Store B' });
  server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(storeB.natsAuthConfigFile, 'utf8') });
  host = await startHost({
    dataDir: hqDataDir,
    natsUrl: server.url,
    natsOptions: (part) => natsConnectOptions(headOffice.files.natsCreds[part]),
    http: { host: '127.0.0.1', port: 0 },
    issuerKeys: generateIssuerMasterKeys(1),
    logger: quiet,
  });
  edgeNc = await connect({ servers: server.url, ...natsConnectOptions(storeA.bundle.natsCreds) });
  edgeDb = new Database(join(root, 'edge-A.db'));
  info = new IssuanceInfo({
    storeId: 'A',
    db: edgeDb,
    sealingKey: loadSealingKey(storeA.bundle.sealingKey).privateKey,
    hqSealingPublicKey: loadSealingPublicKey(storeA.bundle.hqSealingPublicKey),
    hqSigningPublicKey: loadPublicKey(storeA.bundle.hqSigningPublicKey),
    signingKey: loadSigningKey(storeA.bundle.signingKey),
    logger: quiet,
  });
  info.attach(edgeNc);
});

afterAll(async () => {
  await info?.stop();
  await edgeNc?.close();
  edgeDb?.close();
  await host?.stop();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('issuance in the head office process', () => {
  it('registers the provisioned stores once, with their sealing keys', async () => {
    const hqEvents = async () => (await host.store.readStream('hq')).filter((record) => record.type === 'StoreRegistered').length;
    expect(await hqEvents()).toBe(2);
    const keys = (await host.store.readStream('hq'))
      .filter((record) => record.type === 'StoreKeyRegistered')
      .map((record) => decodeEvent('StoreKeyRegistered', decodeEnvelope(record.data).payload).data as { storeId: string });
    // Each store's, and head office's own (the key its messages to stores are signed with).
    expect(keys.map((key) => key.storeId).sort()).toEqual(['A', 'B', 'hq']);
  });

  it("an application of a user of store B reaches store A's sealed snapshot once the card is issued", async () => {
    const response = await fetch(`${host.url}/v1/applications`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(join(root, 'hq'), 'clerk')}` },
      body: JSON.stringify({
        personal: { name: 'Saburo Ito', address: '2-2 Chuo, Sendai', birthDate: '1992-02-02' },
        bank: { bankCode: '0007', branchCode: '007', accountNumber: '0000777' },
        homeStoreId: 'B',
      }),
    });
    expect(response.status).toBe(201);
    const { userId, bankId } = (await response.json()) as { userId: string; bankId: string };
    // Primary issuance without a reader: head office's writer records the card as the route would.
    await host.hqWriter.append([
      {
        event: { type: 'CardPrimaryIssued', data: { cardId: '00000000000000c1', userId, bankId, expiry: '2031-11-30', keyVersion: 1 } },
        streamId: 'card-00000000000000c1',
      },
    ]);
    await until(() => info.cache.find(bankId) !== undefined, "the user in store A's copy");
    expect(info.cache.find(bankId)).toMatchObject({
      userId,
      homeStoreId: 'B',
      personal: { name: 'Saburo Ito' },
      cards: [{ cardId: '00000000000000c1' }],
    });
  });

  it('400 naming the field and 409 come from the running API', async () => {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(join(root, 'hq'), 'clerk')}` };
    const post = (body: object) => fetch(`${host.url}/v1/applications`, { method: 'POST', headers, body: JSON.stringify(body) });
    const bad = await post({
      personal: { name: 'X', address: 'Y', birthDate: '2000-01-01' },
      bank: { bankCode: '7', branchCode: '007', accountNumber: '0000777' },
      homeStoreId: 'B',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request', field: 'bank.bankCode' });
    // Over HTTP as well: a name the card cannot hold (100 kanji, 300 bytes of UTF-8) is named.
    const kanji = await post({
      personal: { name: '山'.repeat(100), address: 'Y', birthDate: '2000-01-01' },
      bank: { bankCode: '0008', branchCode: '008', accountNumber: '0000888' },
      homeStoreId: 'B',
    });
    expect(kanji.status).toBe(400);
    expect(await kanji.json()).toMatchObject({
      error: 'bad_request',
      field: 'personal.name',
      message: expect.stringContaining('255 bytes'),
    });
    const duplicate = await post({
      personal: { name: 'X', address: 'Y', birthDate: '2000-01-01' },
      bank: { bankCode: '0007', branchCode: '007', accountNumber: '0000777' },
      homeStoreId: 'B',
    });
    expect(duplicate.status).toBe(409);
  });

  it('a restarted head office registers nobody twice', async () => {
    const files = headOfficeFiles(join(root, 'hq'));
    const options = {
      dataDir: join(root, 'hq'),
      natsUrl: server.url,
      natsOptions: (part: HeadOfficePart) => natsConnectOptions(files.natsCreds[part]),
      http: { host: '127.0.0.1', port: 0 },
      issuerKeys: generateIssuerMasterKeys(1),
      logger: quiet,
    };
    await host.stop();
    host = await startHost(options);
    expect((await host.store.readStream('hq')).filter((record) => record.type === 'StoreRegistered')).toHaveLength(2);
  });
});
