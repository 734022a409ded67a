// Issuance figures: a 100,000-user store snapshot built by the projection, sealed and published by
// head office over a real nats-server with per-store credentials, and applied by the store's edge
// into its encrypted copy; then secondary issuance at the POS through pcscd + vpcd, p50/p99.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent, type NewDomainEvent } from '../contracts/index.js';
import { loadSealingKey, loadSealingPublicKey } from '../contracts/sealed.js';
import { IssuanceInfo } from '../edge/issuance/index.js';
import { startSnapshotPublisher } from '../host/issuance-publisher/index.js';
import { provisionHeadOffice, provisionStore } from '../host/provisioning/index.js';
import { natsConnectOptions, startNatsServer } from '../infra/nats/index.js';
import { applyIssuanceEvent, IssuanceSnapshotReader, ISSUANCE_SNAPSHOT_SCHEMA } from '../projections/issuance-snapshot.js';

export interface IssuanceBenchOptions {
  users?: number;
  progress?: (message: string) => void;
}

const quiet = { info() {}, warn() {}, error: console.error };
const ms = (start: number) => Math.round((performance.now() - start) * 10) / 10;

function userEvents(n: number): NewDomainEvent[] {
  const account = String(n).padStart(7, '0');
  return [
    {
      type: 'UserRegistered',
      data: {
        userId: `user-${n}`,
        applicationId: `app-${n}`,
        personal: { name: `Customer ${n} Yamada`, address: `${n} Sakura-dori, Chiyoda-ku, Tokyo`, birthDate: '1985-06-15', occupation: 'office worker', affiliation: 'Example Corp.' },
        bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: account },
        homeStoreId: 'A',
      },
    },
    { type: 'CardPrimaryIssued', data: { cardId: n.toString(16).padStart(16, '0'), userId: `user-${n}`, bankId: `0001234${account}`, expiry: '2031-11-30', keyVersion: 1 } },
  ];
}

/** The snapshot part: build, seal and publish a store snapshot of `users` users, then apply it at the edge. */
export async function benchIssuanceSnapshot(options: IssuanceBenchOptions = {}) {
  const users = options.users ?? 100_000;
  const progress = options.progress ?? (() => undefined);
  const root = mkdtempSync(join(tmpdir(), 'cardsys-bench-issuance-'));
  const hqDataDir = join(root, 'hq');
  const headOffice = provisionHeadOffice({ hqDataDir });
  const store = provisionStore({ hqDataDir, storeId: 'A', name: 'Store A' });
  const server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(store.natsAuthConfigFile, 'utf8') });
  const readModels = new Database(join(hqDataDir, 'readmodels.db'));
  readModels.pragma('journal_mode = WAL');
  const edgeDb = new Database(join(root, 'edge.db'));
  edgeDb.pragma('journal_mode = WAL');
  const hq = await connect({ servers: server.url, ...natsConnectOptions(headOffice.files.natsCreds) });
  const edge = await connect({ servers: server.url, ...natsConnectOptions(store.bundle.natsCreds) });
  try {
    readModels.exec(ISSUANCE_SNAPSHOT_SCHEMA);
    const events = [...store.events, ...Array.from({ length: users }, (_, i) => userEvents(i + 1)).flat()].map((event) => decodeEvent(event.type, encodeEvent(event)));
    progress(`projecting ${events.length} events (${users} users with a card)`);
    let start = performance.now();
    readModels.transaction(() => {
      for (const event of events) applyIssuanceEvent(readModels, event);
    })();
    const projectMs = ms(start);

    start = performance.now();
    const built = new IssuanceSnapshotReader(readModels).snapshot('A');
    const buildMs = ms(start);
    const entryBytes = built.entries.reduce((sum, entry) => sum + entry.length, 0);

    progress('sealing and publishing the snapshot');
    const publisher = await startSnapshotPublisher({ nc: hq, readModels, follow: false, logger: quiet });
    start = performance.now();
    const published = await publisher.publishPending();
    const publishMs = ms(start);
    await publisher.stop();

    progress('applying it at the edge');
    const info = new IssuanceInfo({
      storeId: 'A',
      db: edgeDb,
      sealingKey: loadSealingKey(store.bundle.sealingKey).privateKey,
      hqSealingPublicKey: loadSealingPublicKey(store.bundle.hqSealingPublicKey),
      logger: quiet,
    });
    info.attach(edge);
    start = performance.now();
    await info.sync();
    const applyMs = ms(start);
    const held = info.cache.size();
    await info.stop();
    if (held !== users) throw new Error(`the edge holds ${held} users after applying, expected ${users}`);
    edgeDb.pragma('wal_checkpoint(TRUNCATE)');

    start = performance.now();
    const lookups = 10_000;
    for (let i = 0; i < lookups; i++) info.cache.find(`0001234${String(1 + ((i * 7919) % users)).padStart(7, '0')}`);
    const lookupUs = Math.round(((performance.now() - start) * 1000) / lookups);

    return {
      users,
      projectEventsMs: projectMs,
      buildMs,
      entryBytes,
      sealAndPublish: { ms: publishMs, messages: published.messages, sealedBytes: published.bytes, usersPerSecond: Math.round(users / (publishMs / 1000)) },
      applyAtEdge: { ms: applyMs, usersPerSecond: Math.round(users / (applyMs / 1000)), edgeDbBytes: statSync(join(root, 'edge.db')).size },
      lookupInCopyMicroseconds: lookupUs,
    };
  } finally {
    await hq.close();
    await edge.close();
    readModels.close();
    edgeDb.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

export async function benchIssuance(context: { progress: (message: string) => void }) {
  return { snapshot: await benchIssuanceSnapshot({ progress: context.progress }) };
}
