// Issuance figures: a 100,000-user store snapshot built by the projection, sealed and published by
// head office over a real nats-server with per-store credentials, and applied by the store's edge
// into its encrypted copy; then secondary issuance at the POS through pcscd + vpcd, p50/p99.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect } from '@nats-io/transport-node';
import { decodeEvent, encodeEvent, type NewDomainEvent } from '../contracts/index.js';
import { loadSealingKey, loadSealingPublicKey } from '../contracts/index.js';
import { generateIssuerMasterKeys, newBlankCard, parseBankId, terminalKeysOf } from '../card/index.js';
import { loadPinKey, loadPublicKey, loadSigningKey } from '../contracts/index.js';
import { ChipTerminal, InProcessCard, DEFAULT_SERVICE_CODE, VirtualStripeReader, writeVirtualStripe } from '../reader/index.js';
import { startEdge } from '../edge/index.js';
import { IssuanceInfo, startStoreIssuance } from '../edge/issuance/index.js';
import { PosServer, sendPosCommand } from '../edge/pos/index.js';
import { openPcscRig, type SlotCard } from '../testkit/pcsc-rig.js';
import { startSnapshotPublisher } from '../host/issuance/index.js';
import { provisionHeadOffice, provisionStore } from '../host/provisioning/index.js';
import { natsConnectOptions, startNatsServer } from '../infra/nats/index.js';
import { applyIssuanceEvent, IssuanceSnapshotReader, ISSUANCE_SNAPSHOT_SCHEMA } from '../projections/index.js';
import { latency } from './latency.js';

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
        personal: {
          name: `Customer ${n} Yamada`,
          address: `${n} Sakura-dori, Chiyoda-ku, Tokyo`,
          birthDate: '1985-06-15',
          occupation: 'office worker',
          affiliation: 'Example Corp.',
        },
        bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: account },
        homeStoreId: 'A',
      },
    },
    {
      type: 'CardPrimaryIssued',
      data: {
        cardId: n.toString(16).padStart(16, '0'),
        userId: `user-${n}`,
        bankId: `0001234${account}`,
        expiry: '2031-11-30',
        keyVersion: 1,
      },
    },
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
  const hq = await connect({ servers: server.url, ...natsConnectOptions(headOffice.files.natsCreds.snapshots) });
  const edge = await connect({ servers: server.url, ...natsConnectOptions(store.bundle.natsCreds) });
  try {
    readModels.exec(ISSUANCE_SNAPSHOT_SCHEMA);
    const events = [...store.events, ...Array.from({ length: users }, (_, i) => userEvents(i + 1)).flat()].map((event) =>
      decodeEvent(event.type, encodeEvent(event)),
    );
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
    const publisher = await startSnapshotPublisher({ nc: hq, readModels, signingKey: headOffice.signingKey, follow: false, logger: quiet });
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
      hqSigningPublicKey: loadPublicKey(store.bundle.hqSigningPublicKey),
      signingKey: loadSigningKey(store.bundle.signingKey),
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
      sealAndPublish: {
        ms: publishMs,
        messages: published.messages,
        sealedBytes: published.bytes,
        usersPerSecond: Math.round(users / (publishMs / 1000)),
      },
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

/**
 * Secondary issuance as a POS terminal sees it: `issue` over NATS (POS credentials) to the store's
 * edge, which checks the card, reads the stripe, finds the user in its encrypted copy, personalises
 * the virtual card through pcscd + vpcd under secure messaging and commits CardIssued to its log.
 * Each sample inserts a fresh copy of the same primary-issued card (insertion is not timed).
 */
export async function benchPosIssuance(options: { issuances?: number; progress?: (message: string) => void } = {}) {
  const issuances = options.issuances ?? 40;
  const progress = options.progress ?? (() => undefined);
  const master = generateIssuerMasterKeys(1);
  const root = mkdtempSync(join(tmpdir(), 'cardsys-bench-pos-issuance-'));
  const hqDataDir = join(root, 'hq');
  provisionHeadOffice({ hqDataDir });
  const store = provisionStore({ hqDataDir, storeId: 'A', name: 'Store A' });
  const server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(store.natsAuthConfigFile, 'utf8') });
  const rig = await openPcscRig(master.transport);
  const edge = await startEdge({
    storeId: 'A',
    dataDir: join(root, 'stores', 'A'),
    natsUrl: server.url,
    natsOptions: natsConnectOptions(store.bundle.natsCreds),
    signingKey: loadSigningKey(store.bundle.signingKey),
    logger: quiet,
  });
  const pos = new PosServer({ storeId: 'A', db: edge.db, logger: quiet });
  let card: SlotCard | undefined;
  const bankId = '00012340000001';
  const issuance = startStoreIssuance(edge, pos, {
    keys: terminalKeysOf(master),
    pinMasterKey: loadPinKey(store.bundle.pinMasterKey),
    hqSigningPublicKey: loadPublicKey(store.bundle.hqSigningPublicKey),
    signingKey: loadSigningKey(store.bundle.signingKey),
    cardReader: () => card!.transport,
    stripeReader: async () => (await new VirtualStripeReader(card!.stateFile).read()).bankId,
    sealingKey: loadSealingKey(store.bundle.sealingKey).privateKey,
    hqSealingPublicKey: loadSealingPublicKey(store.bundle.hqSealingPublicKey),
    logger: quiet,
  });
  const posNc = await connect({ servers: server.url, ...natsConnectOptions(store.bundle.terminal('pos-1').natsCreds) });
  try {
    pos.listen((await edge.nats)!);
    const cardId = '00000000000000aa';
    const chip = new InProcessCard(newBlankCard(master.transport));
    await new ChipTerminal(chip, { keys: master, terminalName: 'hq-issuer' }).initialise(master, {
      cardId,
      expiry: '2031-11',
      pin: '1234',
      bankId: parseBankId(bankId),
    });
    const primaryIssued = chip.state;
    issuance.info.cache.add({
      bankId,
      userId: 'user-1',
      personal: {
        name: 'Customer 1 Yamada',
        address: '1 Sakura-dori, Chiyoda-ku, Tokyo',
        birthDate: '1985-06-15',
        occupation: 'office worker',
        affiliation: 'Example Corp.',
      },
      bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: '0000001' },
      homeStoreId: 'A',
      cards: [{ cardId, expiry: '2031-11-30' }],
    });
    const samples: number[] = [];
    let apdus = 0;
    progress(`${issuances} secondary issuances through pcscd + vpcd`);
    for (let i = 0; i <= issuances; i++) {
      card = await rig.newCard(primaryIssued);
      writeVirtualStripe(card.stateFile, {
        bankId: parseBankId(bankId),
        expiry: '2031-11',
        serviceCode: DEFAULT_SERVICE_CODE,
        discretionary: '',
      });
      const before = card.card.apduCount;
      const started = performance.now();
      const reply = await sendPosCommand(
        posNc,
        { storeId: 'A', terminalId: 'pos-1' },
        { commandId: `bench-issue-${i}`, issue: {} },
        { attempts: 1, timeoutMs: 20_000 },
      );
      const elapsed = performance.now() - started;
      if (!reply.ok || reply.code !== 'issued') throw new Error(`issuance ${i} failed: ${reply.code}: ${reply.message}`);
      // The first one warms up connections and code paths.
      if (i > 0) {
        samples.push(elapsed);
        apdus = card.card.apduCount - before;
      }
    }
    return { ...latency(samples), apdusPerIssuance: apdus };
  } finally {
    await issuance.stop();
    await pos.stop();
    await edge.stop();
    await posNc.close();
    await rig.close();
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

export async function benchIssuance(context: { progress: (message: string) => void }) {
  return {
    snapshot: await benchIssuanceSnapshot({ progress: context.progress }),
    posSecondaryIssuance: await benchPosIssuance({ progress: context.progress }),
  };
}
