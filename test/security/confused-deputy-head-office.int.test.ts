// Confused deputy at head office: a store sends head office a request whose reply subject is a
// JetStream API call (delete the events stream, delete the ingest consumer, purge another store's
// snapshot stream) or another principal's subject, hoping head office answers there with its own
// rights. Attacked twice, with nothing but store A's own credentials: on the hub as provisioning
// configures it, where the request crosses into head office's account and nats-server itself sends
// the answer back to store A's account only; and with that fence taken away (one account, nobody
// authenticated), where head office's responders refuse on their own, say so and count it.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, HQ_ORIGIN, INGEST_CONSUMER, pb, SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';
import { loadSigningKey } from '../../contracts/index.js';

import { startEdge, type EdgeNode } from '../../edge/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { provisionStore, storeNatsOptions } from '../../host/provisioning/index.js';
import { generateIssuerMasterKeys } from '../../card/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { capturingLogger, purchase } from '../../testkit/backbone.js';
import { startDeployment, type Deployment } from './deployment.js';
import { storeSnapshotMessages } from '../support/snapshots.js';

const encoder = new TextEncoder();

/** Reply subjects an attacker would like head office to publish on. */
const HOSTILE_REPLIES = [
  `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
  `$JS.API.CONSUMER.DELETE.${EVENTS_STREAM}.${INGEST_CONSUMER}`,
  `$JS.API.STREAM.PURGE.${SNAPSHOTS_STREAM}`,
  subjects.ack('B'),
  subjects.blacklistChanges,
  subjects.inquiry('B'),
];

/** Every head-office request subject of store A, with a body each responder reads. */
const REQUESTS_OF_A = [
  { subject: subjects.sync('A'), body: new Uint8Array(0) },
  { subject: subjects.lookup('A'), body: encoder.encode('not sealed') },
  {
    subject: subjects.inquiry('A'),
    body: pb.InquiryRequest.encode({ storeId: 'A', terminalId: 'pos-1', pending: { cardId: '00000000000000a1', cardCounter: 0 } }).finish(),
  },
  { subject: subjects.blacklistSync('A'), body: pb.BlacklistSyncRequest.encode({ storeId: 'A', knownVersion: 0 }).finish() },
];

/** Sends every request of store A once with each hostile reply subject. */
async function attack(nc: NatsConnection): Promise<number> {
  let sent = 0;
  for (const { subject, body } of REQUESTS_OF_A) {
    for (const reply of HOSTILE_REPLIES) {
      nc.publish(subject, body, { reply });
      sent++;
    }
  }
  await nc.flush();
  return sent;
}

/** What an attack would have destroyed, as head office's ingest sees it. */
async function jetStreamState(jsm: JetStreamManager) {
  const events = await jsm.streams.info(EVENTS_STREAM);
  const consumer = await jsm.consumers.info(EVENTS_STREAM, INGEST_CONSUMER);
  return { eventsStream: events.config.name, consumer: consumer.name };
}

/** Collects what arrives on the subjects, to show nothing did. */
function listen(nc: NatsConnection, subjectsToWatch: string[]): Msg[] {
  const seen: Msg[] = [];
  for (const subject of subjectsToWatch) nc.subscribe(subject, { callback: (_error, msg) => void seen.push(msg) });
  return seen;
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

describe('confused deputy at head office, on the hub as provisioned (one account per store)', () => {
  let deployment: Deployment;
  let edgeA: EdgeNode;

  beforeAll(async () => {
    deployment = await startDeployment(['A', 'B']);
    const bundle = deployment.bundle('A');
    edgeA = await startEdge({
      storeId: 'A',
      dataDir: join(deployment.root, 'edge-A'),
      natsUrl: deployment.hub.url,
      natsOptions: storeNatsOptions(deployment.bundleDir('A'), 'store'),
      signingKey: loadSigningKey(bundle.signingKey),
      logger: deployment.log.logger,
    });
    await edgeA.log.append([purchase(1)]);
    await edgeA.replicator.whenConfirmed(1);
  }, 60_000);
  afterAll(async () => {
    await edgeA?.stop();
    await deployment?.close();
  });

  it("leaves the events stream, the ingest consumer and store B's snapshot intact, and nothing reaches B or head office's subjects", async () => {
    const jsm = await jetstreamManager(deployment.host.nats.ingest);
    const before = await jetStreamState(jsm);
    const snapshotsJsm = await jetstreamManager(deployment.host.nats.snapshots);
    const snapshotB = () => storeSnapshotMessages(snapshotsJsm, 'B');
    await until(async () => (await snapshotB().catch(() => 0)) > 0, "store B's first snapshot");
    const snapshotBefore = await snapshotB();
    const storeB = await deployment.connectToHub('B', 'store');
    const seenByB = listen(storeB, [subjects.ack('B'), subjects.blacklistChanges]);
    await storeB.flush();

    const attacker = await deployment.connectToHub('A', 'store');
    const sent = await attack(attacker);
    expect(sent).toBe(24);
    await settle();

    expect(await jetStreamState(jsm)).toEqual(before);
    expect(await snapshotB()).toBe(snapshotBefore);
    expect(seenByB).toEqual([]);
    // Every request crossed into head office's account with a reply subject nats-server made,
    // routed back into store A's own account: the responders answered A, and only A.
    expect(deployment.host.refused.total).toBe(0);
  });

  it("head office goes on: its writer appends, the ingest takes store A's next events", async () => {
    const before = (await deployment.host.store.readStream(HQ_ORIGIN)).length;
    await deployment.host.hqWriter.append([
      { event: { type: 'StoreRegistered', data: { storeId: 'C', name: 'Store C', nearbyStoreIds: [] } }, streamId: 'store-C' },
    ]);
    expect((await deployment.host.store.readStream(HQ_ORIGIN)).length).toBeGreaterThan(before);
    await edgeA.log.append([purchase(2), purchase(3)]);
    await edgeA.replicator.whenConfirmed(3);
  });
});

describe("confused deputy at head office with the server's fence taken away (one account, no authentication)", () => {
  let root: string;
  let server: NatsServer;
  let host: HostNode;
  const log = capturingLogger();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cardsys-deputy-'));
    const hqDataDir = join(root, 'hq');
    provisionStore({ hqDataDir, storeId: 'A', name: 'Store A', bundleDir: join(root, 'stores', 'A') });
    provisionStore({ hqDataDir, storeId: 'B', name: 'Store B', bundleDir: join(root, 'stores', 'B') });
    server = await startNatsServer({ dataDir: join(root, 'nats') });
    host = await startHost({
      dataDir: hqDataDir,
      natsUrl: server.url,
      http: { host: '127.0.0.1', port: 0 },
      issuerKeys: generateIssuerMasterKeys(1),
      logger: log.logger,
    });
  }, 60_000);
  afterAll(async () => {
    await host?.stop();
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("the responders refuse every reply subject outside store A's inbox, log it naming the subject, and count it", async () => {
    const jsm = await jetstreamManager(host.nats.ingest);
    const before = await jetStreamState(jsm);
    const attacker = await connect({ servers: server.url, inboxPrefix: subjects.inbox('A') });
    try {
      const seen = listen(attacker, [subjects.ack('B'), subjects.blacklistChanges, subjects.inquiry('B')]);
      const sent = await attack(attacker);
      await settle();
      expect(await jetStreamState(jsm)).toEqual(before);
      expect(seen).toEqual([]);
      expect(host.refused.total).toBe(sent);
      for (const reply of HOSTILE_REPLIES) {
        expect(
          log.lines.some((line) =>
            line.includes(
              `request on ${subjects.lookup('A')} refused, not answered: its reply subject "${reply}" lies outside store A's inbox _INBOX_A.>`,
            ),
          ),
        ).toBe(true);
      }
      // The same requests asked properly are answered.
      const answer = await attacker.request(subjects.sync('A'), new Uint8Array(0), { timeout: 5000 });
      expect(pb.StoreAck.decode(answer.data).storeId).toBe('A');
    } finally {
      await attacker.close();
    }
  });
});
