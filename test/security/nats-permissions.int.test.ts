// Real nats-server 2.9 with the accounts generated from provisioned principals: each store reaches
// its own subjects and nothing of another store's, and each part of head office only its own.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '@nats-io/nkeys';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, pb, SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';
import { loadSealingKey, openSealed, seal, sealingPublicKeyFromRaw } from '../../contracts/index.js';
import { provisionStore, type ProvisionedStore } from '../../host/provisioning/index.js';
import { headOfficeFiles } from '../../host/provisioning/index.js';
import { permissionViolation } from '../support/nats-permissions.js';
import {
  ensureSnapshotsStream,
  natsConnectOptions,
  publishSnapshotMessage,
  readSnapshotMessages,
  snapshotsStreamLastSeq,
  startSnapshotGeneration,
  storeSnapshotApi,
  startNatsServer,
  type NatsServer,
} from '../../infra/nats/index.js';

const encoder = new TextEncoder();
let root: string;
let server: NatsServer;
let stores: Record<'A' | 'B', ProvisionedStore>;
/** Head office's ingest (events stream, acks) and snapshot publisher (snapshot streams). */
let hq: NatsConnection;
let hqJsm: JetStreamManager;
let hqSnapshots: NatsConnection;
let snapshotsJsm: JetStreamManager;
const open: NatsConnection[] = [];

async function connectWith(credsFile: string): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, ...natsConnectOptions(credsFile) });
  open.push(nc);
  return nc;
}

/** Subscribes and returns how the server answered: the violation that closed it, or "allowed". */
async function trySubscribe(nc: NatsConnection, subject: string): Promise<string> {
  const subscription = nc.subscribe(subject);
  const refused = subscription.closed.then((error) => (error instanceof PermissionViolationError ? error.message : `closed: ${error}`));
  await nc.flush();
  const outcome = await Promise.race([
    refused,
    nc
      .flush()
      .then(() => nc.flush())
      .then(() => 'allowed'),
  ]);
  subscription.unsubscribe();
  return outcome;
}

const snapshotUpdate = (storeId: string, bankIds: string[]) =>
  pb.IssuanceSnapshotUpdate.encode({
    storeId,
    generation: 1,
    part: 1,
    parts: 1,
    upserts: bankIds.map((bankId) => ({ bankId, userId: `user-${bankId}`, homeStoreId: storeId })),
  }).finish();

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-security-'));
  const hqDataDir = join(root, 'hq');
  stores = {
    A: provisionStore({
      hqDataDir,
      storeId: 'A',
      name: 'Store A',
      nearbyStoreIds: ['B'],
      bundleDir: join(root, 'stores', 'A'),
      terminals: ['pos-1', 'pos-2'],
    }),
    B: provisionStore({ hqDataDir, storeId: 'B', name: 'Store B', bundleDir: join(root, 'stores', 'B') }),
  };
  server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(stores.B.natsAuthConfigFile, 'utf8') });
  hq = await connectWith(headOfficeFiles(hqDataDir).natsCreds.ingest);
  hqJsm = await jetstreamManager(hq);
  await hqJsm.streams.add({ name: EVENTS_STREAM, subjects: [subjects.eventsAll] });
  hqSnapshots = await connectWith(headOfficeFiles(hqDataDir).natsCreds.snapshots);
  snapshotsJsm = await jetstreamManager(hqSnapshots);
  await ensureSnapshotsStream(snapshotsJsm, 1);
  for (const [storeId, store] of Object.entries(stores)) {
    const sealingKey = sealingPublicKeyFromRaw(new Uint8Array(Buffer.from(store.record.sealingPublicKey, 'base64')));
    const blob = seal(
      sealingKey,
      { purpose: 'issuance-snapshot', recipient: storeId },
      snapshotUpdate(storeId, [`${storeId}-0001`, `${storeId}-0002`]),
    );
    await publishSnapshotMessage(jetstream(hqSnapshots), storeId, { number: 1, generationStart: 1 }, blob, {
      streamSeq: await snapshotsStreamLastSeq(snapshotsJsm),
    });
  }
});

afterAll(async () => {
  await Promise.all(open.map((nc) => nc.close()));
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('store credentials', () => {
  it('publish its own events into JetStream and receive its own acks', async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const acks = edgeA.subscribe(subjects.ack('A'), { max: 1 });
    await edgeA.flush();
    const published = await jetstream(edgeA).publish(subjects.events('A'), encoder.encode('batch'), { msgID: 'A:1-1' });
    expect(published.stream).toBe(EVENTS_STREAM);
    hq.publish(subjects.ack('A'), pb.StoreAck.encode({ storeId: 'A', confirmedSeq: 1 }).finish());
    for await (const ack of acks) expect(pb.StoreAck.decode(ack.data).confirmedSeq).toBe(1);
  });

  it("cannot publish on store B's event subject: the server refuses and nothing reaches the stream", async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const before = (await hqJsm.streams.info(EVENTS_STREAM)).state.messages;
    const refused = permissionViolation(edgeA, subjects.events('B'));
    edgeA.publish(subjects.events('B'), encoder.encode('forged batch'));
    expect((await refused).operation).toBe('publish');
    await expect(jetstream(edgeA).publish(subjects.events('B'), encoder.encode('forged batch'))).rejects.toThrow(
      'Permissions Violation for Publish to "cardsys.events.B"',
    );
    expect((await hqJsm.streams.info(EVENTS_STREAM)).state.messages).toBe(before);
  });

  it('read their own sealed snapshot by direct get and open it with their own key', async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const jsm = await storeSnapshotApi(edgeA, 'A');
    const messages = [];
    for await (const message of readSnapshotMessages(jsm, 'A', 0)) messages.push(message);
    expect(messages.map((message) => message.seq)).toEqual([1]);
    const key = loadSealingKey(stores.A.bundle.sealingKey);
    const update = pb.IssuanceSnapshotUpdate.decode(
      openSealed(key.privateKey, { purpose: 'issuance-snapshot', recipient: 'A' }, messages[0]!.data),
    );
    expect(update.upserts.map((entry) => entry.bankId)).toEqual(['A-0001', 'A-0002']);
  });

  it("cannot read store B's snapshot: not by direct get, stream info, consumer nor subscription", async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const jsm = await jetstreamManager(edgeA, { checkAPI: false });
    const stream = SNAPSHOTS_STREAM;
    const messageOfB = subjects.snapshotMessage('B', 1);
    await expect(jsm.direct.getMessage(stream, { seq: 1 })).rejects.toThrow(
      `Permissions Violation for Publish to "$JS.API.DIRECT.GET.${stream}"`,
    );
    await expect(jsm.direct.getMessage(stream, { last_by_subj: messageOfB })).rejects.toThrow(
      `Permissions Violation for Publish to "$JS.API.DIRECT.GET.${stream}.${messageOfB}"`,
    );
    // Nor under the API prefixes a store's account imports its own subjects with, A's or B's: not
    // B's subject, and not the direct get with a body (any sequence of the stream), not even A's.
    const underA = await storeSnapshotApi(edgeA, 'A');
    const underB = await storeSnapshotApi(edgeA, 'B');
    for (const [api, prefix] of [
      [underA, subjects.snapshotApi('A')],
      [underB, subjects.snapshotApi('B')],
    ] as const) {
      await expect(api.direct.getMessage(stream, { seq: 1 })).rejects.toThrow(
        `Permissions Violation for Publish to "${prefix}.DIRECT.GET.${stream}"`,
      );
      await expect(api.direct.getMessage(stream, { last_by_subj: messageOfB })).rejects.toThrow(
        `Permissions Violation for Publish to "${prefix}.DIRECT.GET.${stream}.${messageOfB}"`,
      );
    }
    await expect(jsm.streams.info(stream)).rejects.toThrow(`Permissions Violation for Publish to "$JS.API.STREAM.INFO.${stream}"`);
    await expect(jsm.consumers.add(stream, { filter_subject: subjects.snapshot('B') })).rejects.toThrow(
      'Permissions Violation for Publish to "$JS.API.CONSUMER.CREATE',
    );
    expect(await trySubscribe(edgeA, subjects.snapshot('B'))).toBe(`Permissions Violation for Subscription to "${subjects.snapshot('B')}"`);
  });

  it("the store's account imports the direct gets of its own subjects only", () => {
    const config = readFileSync(stores.B.natsAuthConfigFile, 'utf8');
    const accountOfA = config.slice(config.indexOf('"A": {'), config.indexOf('"B": {'));
    const imported = [...accountOfA.matchAll(/DIRECT\.GET[^"]*/g)].map((match) => match[0]);
    // The import, the name A's account knows it by, and the edge's permission: never the direct get with a body.
    expect(imported).toEqual(Array.from({ length: 3 }, () => `DIRECT.GET.${SNAPSHOTS_STREAM}.${subjects.snapshot('A')}`));
  });

  it('cannot create consumers even on the snapshot stream (a delivery subject could point anywhere)', async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const jsm = await jetstreamManager(edgeA, { checkAPI: false });
    await expect(jsm.consumers.add(SNAPSHOTS_STREAM, { deliver_subject: subjects.events('B') })).rejects.toThrow(
      'Permissions Violation for Publish to "$JS.API.CONSUMER.CREATE',
    );
  });

  it("cannot listen to anything of store B's", async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    for (const subject of [
      subjects.ack('B'),
      subjects.pos('B', 'pos-1'),
      subjects.posAll('B'),
      subjects.events('B'),
      subjects.eventsAll,
      `${subjects.inbox('B')}.>`,
      '_INBOX.pos.B.>',
      '>',
    ]) {
      expect(await trySubscribe(edgeA, subject), subject).toBe(`Permissions Violation for Subscription to "${subject}"`);
    }
    for (const subject of [subjects.ack('A'), subjects.posAll('A'), subjects.snapshot('A'), subjects.blacklistChanges]) {
      expect(await trySubscribe(edgeA, subject), subject).toBe('allowed');
    }
  });

  it('get no replies on the default inbox: the per-store inbox prefix is enforced', async () => {
    const seed = readFileSync(stores.A.bundle.natsCreds, 'utf8').match(/^SU[A-Z2-7]+$/m)![0];
    const edgeA = await connect({ servers: server.url, authenticator: nkeyAuthenticator(encoder.encode(seed)) });
    open.push(edgeA);
    await expect(edgeA.request(subjects.sync('A'), encoder.encode('where?'), { timeout: 5000 })).rejects.toThrow(
      /Permissions Violation for Subscription to "_INBOX\./,
    );
  });

  it("a sealed snapshot blob taken from the broker does not open with another store's key", async () => {
    const taken = await snapshotsJsm.streams.getMessage(SNAPSHOTS_STREAM, { last_by_subj: subjects.snapshotMessage('B', 1) });
    const keyA = loadSealingKey(stores.A.bundle.sealingKey);
    expect(() => openSealed(keyA.privateKey, { purpose: 'issuance-snapshot', recipient: 'B' }, taken!.data)).toThrow(
      /sealed to key .*not to this key/,
    );
    const keyB = loadSealingKey(stores.B.bundle.sealingKey);
    expect(
      pb.IssuanceSnapshotUpdate.decode(openSealed(keyB.privateKey, { purpose: 'issuance-snapshot', recipient: 'B' }, taken!.data)).storeId,
    ).toBe('B');
  });
});

describe('snapshot channel', () => {
  it('catches up past its read window, resumes from a cursor and skips what head office purged', async () => {
    const js = jetstream(hqSnapshots);
    // Store A's messages 2 to 601 (1 is its snapshot), each saying its number.
    const first = 2;
    const streamSeqs: number[] = [];
    let streamSeq = await snapshotsStreamLastSeq(snapshotsJsm);
    for (let n = first; n < first + 600; n++) {
      const position = { number: n, generationStart: 1 };
      streamSeq = (await publishSnapshotMessage(js, 'A', position, encoder.encode(`change ${n}`), { streamSeq })).seq;
      streamSeqs.push(streamSeq);
    }
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const jsm = await storeSnapshotApi(edgeA, 'A');
    const read = async (afterSeq: number) => {
      const seqs: number[] = [];
      for await (const message of readSnapshotMessages(jsm, 'A', afterSeq)) {
        expect(new TextDecoder().decode(message.data)).toBe(`change ${message.seq}`);
        seqs.push(message.seq);
      }
      return seqs;
    };
    expect(await read(first - 1)).toEqual(Array.from({ length: 600 }, (_, i) => first + i));
    expect(await read(first + 598)).toEqual([first + 599]);
    // A new full generation from message first + 500 on: what lies before it is purged.
    await startSnapshotGeneration(js, snapshotsJsm, 'A', { number: first + 599, generationStart: first + 500 }, streamSeqs[500]!, {
      streamSeq: await snapshotsStreamLastSeq(snapshotsJsm),
    });
    expect(await read(first + 10)).toEqual(Array.from({ length: 100 }, (_, i) => first + 500 + i));
    expect(await read(first + 599)).toEqual([]);
    // Store B's message is untouched by A's purge.
    expect((await snapshotsJsm.streams.getMessage(SNAPSHOTS_STREAM, { last_by_subj: subjects.snapshotMessage('B', 1) }))?.seq).toBe(2);
  });

  it('refuses a publish from a publisher whose idea of the stream is out of date', async () => {
    const stale = (await snapshotsStreamLastSeq(snapshotsJsm)) - 1;
    await expect(
      publishSnapshotMessage(jetstream(hqSnapshots), 'B', { number: 2, generationStart: 1 }, encoder.encode('late'), { streamSeq: stale }),
    ).rejects.toThrow(/wrong last sequence/);
  });
});

describe('POS credentials', () => {
  const terminalCreds = (storeId: 'A' | 'B', terminalId: string) => stores[storeId].bundle.terminal(terminalId).natsCreds;

  it("reach their own store's edge, which may answer them", async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    edgeA.subscribe(subjects.posAll('A'), {
      callback: (_, message) => {
        message.respond(encoder.encode(`edge A got ${message.string()} on ${message.subject}`));
      },
    });
    await edgeA.flush();
    for (const terminalId of ['pos-1', 'pos-2']) {
      const pos = await connectWith(terminalCreds('A', terminalId));
      const reply = await pos.request(subjects.pos('A', terminalId), encoder.encode('pay 500'), { timeout: 5000 });
      expect(reply.string()).toBe(`edge A got pay 500 on cardsys.pos.A.${terminalId}`);
    }
  });

  it("terminal 1 cannot publish on terminal 2's subject nor read terminal 2's replies", async () => {
    const edgeA = await connectWith(stores.A.bundle.natsCreds);
    const reached: string[] = [];
    edgeA.subscribe(subjects.posAll('A'), { callback: (_, message) => void reached.push(message.subject) });
    await edgeA.flush();
    const pos1 = await connectWith(terminalCreds('A', 'pos-1'));
    await expect(pos1.request(subjects.pos('A', 'pos-2'), encoder.encode('pay 500'), { timeout: 5000 })).rejects.toThrow(
      'Permissions Violation for Publish to "cardsys.pos.A.pos-2"',
    );
    for (const subject of ['_INBOX.pos.A.pos-2.>', '_INBOX.pos.A.>', subjects.pos('A', 'pos-2')])
      expect(await trySubscribe(pos1, subject), subject).toBe(`Permissions Violation for Subscription to "${subject}"`);
    await edgeA.flush();
    expect(reached).toEqual([]);
  });

  it("cannot talk to store B's edge nor pose as an edge", async () => {
    const edgeB = await connectWith(stores.B.bundle.natsCreds);
    let reachedB = 0;
    edgeB.subscribe(subjects.posAll('B'), {
      callback: () => {
        reachedB++;
      },
    });
    await edgeB.flush();
    const pos = await connectWith(terminalCreds('A', 'pos-1'));
    await expect(pos.request(subjects.pos('B', 'pos-1'), encoder.encode('pay 500'), { timeout: 5000 })).rejects.toThrow(
      'Permissions Violation for Publish to "cardsys.pos.B.pos-1"',
    );
    expect(await trySubscribe(pos, subjects.posAll('A'))).toBe('Permissions Violation for Subscription to "cardsys.pos.A.*"');
    const refused = permissionViolation(pos, subjects.events('A'));
    pos.publish(subjects.events('A'), encoder.encode('forged'));
    await refused;
    await edgeB.flush();
    expect(reachedB).toBe(0);
  });
});

describe("head office's parts", () => {
  const partCreds = () => headOfficeFiles(join(root, 'hq')).natsCreds;
  const refusedPublish = async (nc: NatsConnection, subject: string) => {
    const refused = permissionViolation(nc, subject);
    nc.publish(subject, new Uint8Array(0));
    return (await refused).operation;
  };

  it('the responders may publish nothing but server-made replies: no JetStream API, no acks, no blacklist', async () => {
    const responder = await connectWith(partCreds().responder);
    for (const subject of [
      `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
      '$JS.API.INFO',
      subjects.ack('A'),
      subjects.blacklistChanges,
      subjects.events('A'),
      `${subjects.inbox('A')}.x`,
    ]) {
      expect(await refusedPublish(responder, subject), subject).toBe('publish');
    }
    expect(await trySubscribe(responder, subjects.hqRequestsAll)).toBe('allowed');
    expect(await trySubscribe(responder, subjects.eventsAll)).toBe(`Permissions Violation for Subscription to "${subjects.eventsAll}"`);
  });

  it('the ingest keeps its own consumer and publishes acks, but cannot delete or purge streams nor publish the blacklist', async () => {
    const ingest = await connectWith(partCreds().ingest);
    const jsm = await jetstreamManager(ingest);
    await expect(jsm.streams.delete(EVENTS_STREAM)).rejects.toThrow(
      `Permissions Violation for Publish to "$JS.API.STREAM.DELETE.${EVENTS_STREAM}"`,
    );
    await expect(jsm.streams.purge(SNAPSHOTS_STREAM)).rejects.toThrow('Permissions Violation for Publish to "$JS.API.STREAM.PURGE');
    await expect(jsm.consumers.add(EVENTS_STREAM, { durable_name: 'other', filter_subject: subjects.eventsAll })).rejects.toThrow(
      'Permissions Violation for Publish to "$JS.API.CONSUMER',
    );
    expect(await refusedPublish(ingest, subjects.blacklistChanges)).toBe('publish');
  });

  it('the snapshot publisher keeps the snapshot stream, in an account where the events stream does not exist', async () => {
    const snapshots = await connectWith(partCreds().snapshots);
    const jsm = await jetstreamManager(snapshots);
    expect((await jsm.streams.info(SNAPSHOTS_STREAM)).config.name).toBe(SNAPSHOTS_STREAM);
    await expect(jsm.streams.info(EVENTS_STREAM)).rejects.toThrow('Permissions Violation for Publish');
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow('Permissions Violation for Publish');
    await expect(jsm.streams.delete(SNAPSHOTS_STREAM)).rejects.toThrow(
      `Permissions Violation for Publish to "$JS.API.STREAM.DELETE.${SNAPSHOTS_STREAM}"`,
    );
    expect(await refusedPublish(snapshots, subjects.events('A'))).toBe('publish');
  });

  it('the writer publishes blacklist changes only, and the API connection nothing', async () => {
    const writer = await connectWith(partCreds().writer);
    expect(await refusedPublish(writer, subjects.ack('A'))).toBe('publish');
    const api = await connectWith(partCreds().api);
    expect(await refusedPublish(api, subjects.blacklistChanges)).toBe('publish');
    expect(await trySubscribe(api, '>')).toBe('Permissions Violation for Subscription to ">"');
  });
});

describe('auditor credentials', () => {
  it('read stored batches but cannot publish or create consumers', async () => {
    const auditor = await connectWith(headOfficeFiles(join(root, 'hq')).auditorCreds);
    const jsm = await jetstreamManager(auditor, { checkAPI: false });
    const first = await jsm.streams.getMessage(EVENTS_STREAM, { seq: 1 });
    expect(first?.subject).toBe(subjects.events('A'));
    await expect(jetstream(auditor).publish(subjects.events('A'), encoder.encode('x'))).rejects.toThrow(
      'Permissions Violation for Publish to "cardsys.events.A"',
    );
    await expect(jsm.consumers.add(EVENTS_STREAM, {})).rejects.toThrow('Permissions Violation for Publish to "$JS.API.CONSUMER.CREATE');
    await expect(jsm.streams.purge(EVENTS_STREAM)).rejects.toThrow('Permissions Violation for Publish to "$JS.API.STREAM.PURGE');
  });
});

describe('connections without valid credentials', () => {
  it('are refused: none at all, or an nkey the server does not know', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow('Authorization Violation');
    await expect(
      connect({ servers: server.url, reconnect: false, authenticator: nkeyAuthenticator(createUser().getSeed()) }),
    ).rejects.toThrow('Authorization Violation');
  });
});
