// Issuance info from head office to stores over a real nats-server with per-store credentials:
// the projection decides who each store may finish, the publisher seals and sends, the edge keeps
// an encrypted copy, and a miss goes to head office on demand.
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent, pb, type NewDomainEvent } from '../../contracts/index.js';
import {
  createOpener,
  loadPublicKey,
  loadSealingKey,
  loadSealingPublicKey,
  loadSigningKey,
  openSignedSealed,
} from '../../contracts/index.js';
import { publicKeyFromRaw, type SigningKey } from '../../contracts/index.js';
import { snapshotSealContext } from '../../contracts/index.js';
import { IssuanceInfo } from '../../edge/issuance/index.js';
import { IssuanceCache } from '../../edge/issuance/index.js';
import { startLookupResponder, startSnapshotPublisher, type SnapshotPublisher } from '../../host/issuance/index.js';
import { provisionHeadOffice, provisionStore, type ProvisionedStore, headOfficeFiles } from '../../host/provisioning/index.js';
import { natsConnectOptions, readSnapshotMessages, startNatsServer, storeSnapshotApi, type NatsServer } from '../../infra/nats/index.js';
import { applyIssuanceEvent, ISSUANCE_SNAPSHOT_SCHEMA } from '../../projections/index.js';
import { storeSnapshotMessages } from '../support/snapshots.js';

let root: string;
let server: NatsServer;
let stores: Record<'A' | 'B' | 'C', ProvisionedStore>;
let hqDataDir: string;
let readModels: Database.Database;
let publisher: SnapshotPublisher;
let responder: { stop(): Promise<void> };
let edgeDb: Database.Database;
let info: IssuanceInfo;
let hqSigningKey: SigningKey;
/** Head office as store A knows it: the key its snapshot messages are signed with. */
const headOffice = {
  name: 'head office',
  get publicKey() {
    return hqSigningKey.publicKey;
  },
};
/** The stores' signing keys as provisioning registers them in `hq`. */
const provisionedKeys = {
  async publicKey(storeId: string, keyId: string) {
    const record = stores[storeId as 'A' | 'B' | 'C']?.record;
    return record?.signingKeyId === keyId ? publicKeyFromRaw(new Uint8Array(Buffer.from(record.signingPublicKey, 'base64'))) : undefined;
  },
};
const connections: NatsConnection[] = [];

const collect = async <T>(items: AsyncIterable<T>): Promise<T[]> => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};

const connectAs = async (creds: string) => {
  const nc = await connect({ servers: server.url, ...natsConnectOptions(creds) });
  connections.push(nc);
  return nc;
};

/** Applies events to the read model as the projection runner would: each through the codec. */
const project = (...events: NewDomainEvent[]) =>
  readModels.transaction(() => {
    for (const event of events) applyIssuanceEvent(readModels, decodeEvent(event.type, encodeEvent(event)));
  })();

const account = (n: number) => String(n).padStart(7, '0');
const bankId = (n: number) => `0001234${account(n)}`;
const user = (n: number, homeStoreId: string): NewDomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId: `user-${n}`,
    applicationId: `app-${n}`,
    personal: { name: `Customer Number ${n}`, address: `${n} Sakura-dori`, birthDate: '1980-01-01' },
    bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: account(n) },
    homeStoreId,
  },
});
const card = (n: number): NewDomainEvent => ({
  type: 'CardPrimaryIssued',
  data: { cardId: `card-${n}`, userId: `user-${n}`, bankId: bankId(n), expiry: '2031-11-30', keyVersion: 1 },
});
const issued = (n: number, storeId: string): NewDomainEvent => ({
  type: 'CardIssued',
  data: { cardId: `card-${n}`, userId: `user-${n}`, bankId: bankId(n), storeId, terminalId: 't1', expiry: '2031-11-30' },
});

/** Publishes what is pending and lets the edge read it. */
const deliver = async () => {
  const figures = await publisher.publishPending();
  await info.sync();
  return figures;
};

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-issuance-snapshot-'));
  hqDataDir = join(root, 'hq');
  const headOffice = provisionHeadOffice({ hqDataDir });
  stores = {
    A: provisionStore({ hqDataDir, storeId: 'A', name: 'Store A', nearbyStoreIds: ['B'] }),
    B: provisionStore({ hqDataDir, storeId: 'B', name: 'Store B' }),
    C: provisionStore({ hqDataDir, storeId: 'C', name: 'Store C' }),
  };
  server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(stores.C.natsAuthConfigFile, 'utf8') });

  readModels = new Database(join(hqDataDir, 'readmodels.db'));
  readModels.exec(ISSUANCE_SNAPSHOT_SCHEMA);
  project(...Object.values(stores).flatMap((store) => store.events));
  // Users 1-3 at A, 4-5 at B (A's neighbour), 6 at C; user 7 at A has no card yet.
  project(user(1, 'A'), user(2, 'A'), user(3, 'A'), user(4, 'B'), user(5, 'B'), user(6, 'C'), user(7, 'A'));
  project(...[1, 2, 3, 4, 5, 6].map(card));

  hqSigningKey = headOffice.signingKey;
  publisher = await startSnapshotPublisher({
    nc: await connectAs(headOffice.files.natsCreds.snapshots),
    readModels,
    signingKey: hqSigningKey,
    follow: false,
    logger: quiet,
  });
  responder = startLookupResponder({
    nc: await connectAs(headOffice.files.natsCreds.responder),
    readModels,
    sealingKey: headOffice.sealingKey.privateKey,
    signingKey: hqSigningKey,
    storeKeys: provisionedKeys,
    logger: quiet,
  });

  edgeDb = new Database(join(root, 'edge-A.db'));
  info = new IssuanceInfo({
    storeId: 'A',
    db: edgeDb,
    sealingKey: loadSealingKey(stores.A.bundle.sealingKey).privateKey,
    hqSealingPublicKey: loadSealingPublicKey(stores.A.bundle.hqSealingPublicKey),
    hqSigningPublicKey: loadPublicKey(stores.A.bundle.hqSigningPublicKey),
    signingKey: loadSigningKey(stores.A.bundle.signingKey),
    lookupTimeoutMs: 2000,
    logger: quiet,
  });
  info.attach(await connectAs(stores.A.bundle.natsCreds));
});

const quiet = { info() {}, warn: console.warn, error: console.error };

afterAll(async () => {
  await info?.stop();
  await publisher?.stop();
  await responder?.stop();
  await Promise.all(connections.map((nc) => nc.close()));
  edgeDb?.close();
  readModels?.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('issuance snapshots', () => {
  it("store A's copy holds its own and its neighbour's users with cards waiting, and nobody else", async () => {
    const figures = await deliver();
    expect(figures.fullSnapshots).toBe(3);
    for (const n of [1, 2, 3, 4, 5]) expect(info.cache.find(bankId(n))?.userId, `user ${n}`).toBe(`user-${n}`);
    expect(info.cache.find(bankId(6))).toBeUndefined();
    expect(info.cache.find(bankId(7))).toBeUndefined();
    expect(info.cache.size()).toBe(5);
    expect(info.cache.find(bankId(1))).toMatchObject({
      personal: { name: 'Customer Number 1' },
      cards: [{ cardId: 'card-1', expiry: '2031-11-30' }],
    });
  });

  it('later changes arrive incrementally: a new card joins, an issued card leaves', async () => {
    project(card(7), issued(2, 'A'));
    const figures = await deliver();
    expect(figures).toMatchObject({ fullSnapshots: 0, changeMessages: 1 });
    expect(info.cache.find(bankId(7))?.cards).toEqual([{ cardId: 'card-7', expiry: '2031-11-30' }]);
    expect(info.cache.find(bankId(2))).toBeUndefined();
    expect(info.cache.state().generation).toBe(1);
  });

  it('a store that gets a new neighbour gets a whole new snapshot, which replaces the copy', async () => {
    project({ type: 'StoreRegistered', data: { storeId: 'A', name: 'Store A', nearbyStoreIds: ['B', 'C'] } });
    const figures = await deliver();
    expect(figures.fullSnapshots).toBe(1);
    expect(info.cache.state().generation).toBe(2);
    expect(info.cache.find(bankId(6))?.userId).toBe('user-6');
    expect(info.cache.size()).toBe(6);
    // The superseded generation is gone from the broker: what is left is the new one's part and its mark.
    const hq = await connectAs(headOfficeFiles(hqDataDir).natsCreds.snapshots);
    expect(await storeSnapshotMessages(await jetstreamManager(hq), 'A')).toBe(2);
  });

  it('re-reading the stream changes nothing; a restarted publisher resumes where the stream stands', async () => {
    const before = info.cache.state();
    expect(await info.sync()).toBe(0);
    const hq = await connectAs(headOfficeFiles(hqDataDir).natsCreds.snapshots);
    const again = await startSnapshotPublisher({ nc: hq, readModels, signingKey: hqSigningKey, follow: false, logger: quiet });
    try {
      expect(await again.publishPending()).toMatchObject({ messages: 0, fullSnapshots: 0 });
    } finally {
      await again.stop();
    }
    expect(info.cache.state()).toEqual(before);
  });

  it('a snapshot blob from the broker opens only with the store key; the copy on disk shows no personal data', async () => {
    const edgeA = await connectAs(stores.A.bundle.natsCreds);
    const jsm = await storeSnapshotApi(edgeA, 'A');
    const [message] = await collect(readSnapshotMessages(jsm, 'A', 0));
    const keyB = loadSealingKey(stores.B.bundle.sealingKey).privateKey;
    const open = (key: KeyObject) =>
      openSignedSealed(createOpener(key, snapshotSealContext('A')), snapshotSealContext('A'), message!.data, headOffice);
    expect(() => open(keyB)).toThrow(/not to this key/);
    const keyA = loadSealingKey(stores.A.bundle.sealingKey).privateKey;
    expect(pb.IssuanceSnapshotUpdate.decode(open(keyA)).storeId).toBe('A');

    edgeDb.pragma('wal_checkpoint(TRUNCATE)');
    const file = readFileSync(join(root, 'edge-A.db'));
    expect(file.includes('Customer Number 1')).toBe(false);
    expect(file.includes(bankId(1))).toBe(false);
    expect(file.includes(account(1))).toBe(false);

    // The same file read with another store's key: entries cannot be found, nor decrypted.
    const copy = new Database(join(root, 'edge-A.db'));
    const stolen = new IssuanceCache(copy, 'A', keyB, snapshotSealContext('A'), headOffice);
    expect(stolen.size()).toBe(6);
    expect(stolen.find(bankId(1))).toBeUndefined();
    const row = edgeDb.prepare('SELECT bank_key FROM issuance_cache LIMIT 1').get() as { bank_key: Buffer };
    expect(() => {
      const forged = new IssuanceCache(copy, 'A', keyB, snapshotSealContext('A'), headOffice);
      // Point B's index at A's row: decryption still fails without A's key.
      (forged as unknown as { bankKey: () => Buffer }).bankKey = () => row.bank_key;
      forged.find('anything');
    }).toThrow(/does not decrypt/);
    copy.close();
  });

  it('after many changes head office replaces them in the stream with a new whole snapshot', async () => {
    const hq = await connectAs(headOfficeFiles(hqDataDir).natsCreds.snapshots);
    const compacting = await startSnapshotPublisher({
      nc: hq,
      readModels,
      signingKey: hqSigningKey,
      follow: false,
      logger: quiet,
      compactAfterMessages: 2,
      changesPerMessage: 1,
    });
    try {
      project(user(20, 'A'), card(20), user(21, 'A'), card(21), user(22, 'A'), card(22));
      const figures = await compacting.publishPending();
      expect(figures.fullSnapshots).toBe(1);
      await info.sync();
      for (const n of [20, 21, 22]) expect(info.cache.find(bankId(n))?.userId).toBe(`user-${n}`);
      expect(await storeSnapshotMessages(await jetstreamManager(hq), 'A')).toBeLessThanOrEqual(3);
    } finally {
      await compacting.stop();
    }
    // The first publisher's idea of the stream is now out of date: its next publish is refused
    // (expected last sequence of the stream), and the pass after that starts from what the stream holds.
    project(user(23, 'A'), card(23));
    expect(await publisher.publishPending()).toMatchObject({ failedStores: 1 });
    expect(await deliver()).toMatchObject({ failedStores: 0 });
    expect(info.cache.find(bankId(23))?.userId).toBe('user-23');
  });

  it("store A's credentials cannot read store B's snapshot stream", async () => {
    const edgeA = await connectAs(stores.A.bundle.natsCreds);
    const jsm = await jetstreamManager(edgeA, { checkAPI: false });
    await expect(collect(readSnapshotMessages(jsm, 'B', 0))).rejects.toThrow(/Permissions Violation/);
  });
});

describe('on-demand lookup', () => {
  it('a card missing from the copy is asked of head office and joins the copy', async () => {
    project(user(8, 'C'), card(8));
    project({ type: 'StoreRegistered', data: { storeId: 'A', name: 'Store A', nearbyStoreIds: ['B'] } });
    await deliver();
    expect(info.cache.find(bankId(8))).toBeUndefined();
    const found = await info.find(bankId(8), 'card-8');
    expect(found).toMatchObject({ found: true, source: 'head_office', entry: { userId: 'user-8' } });
    expect(info.cache.find(bankId(8))?.userId).toBe('user-8');
    expect(await info.find(bankId(8), 'card-8')).toMatchObject({ found: true, source: 'snapshot' });
  });

  it('head office without the user says so', async () => {
    expect(await info.find(bankId(99), 'card-99')).toMatchObject({ found: false, reason: 'not_at_head_office' });
    // A card id that does not belong to the user is no data either.
    expect(await info.find(bankId(6), 'card-1')).toMatchObject({ found: false, reason: 'not_at_head_office' });
  });

  it('head office unreachable: not found, with the reason', async () => {
    await responder.stop();
    const result = await info.find(bankId(9), 'card-9');
    expect(result).toMatchObject({ found: false, reason: 'head_office_unreachable' });
  });
});
