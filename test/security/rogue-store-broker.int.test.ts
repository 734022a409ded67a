import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';
import { EVENTS_STREAM, loadPinKey, pb } from '../../contracts/index.js';

import type { EdgeNode } from '../../edge/index.js';
import { sendPosCommand } from '../../edge/pos/index.js';
import { storeNatsOptions } from '../../host/provisioning/index.js';

import { capturingLogger, purchase } from '../../testkit/backbone.js';
import { startDeployment, type Broker, type Deployment } from './deployment.js';

const PIN = '4321';
const FAKE_CARD = '00000000000000f1';
const decoder = new TextDecoder();

/** Whether a subject belongs to store A (its id as a token, or one of its inboxes). */
const ofStoreA = (subject: string) =>
  subject.split('.').includes('A') || subject.startsWith('_INBOX_A.') || subject.startsWith('_INBOX.pos.A.');

describe("a rogue broker joined with store B's leaf login", () => {
  let deployment: Deployment;
  let brokerA: Broker;
  let rogue: Broker;
  let edgeA: EdgeNode;
  let rogueClient: NatsConnection;
  const rogueSaw: Msg[] = [];
  const edgeLog = capturingLogger();

  beforeAll(async () => {
    deployment = await startDeployment(['A', 'B']);
    brokerA = await deployment.startBroker('A');
    rogue = await deployment.startRogueBroker('B');
    rogueClient = await connect({ servers: rogue.url, reconnect: false });
    rogueClient.subscribe('>', { callback: (_error, msg) => void rogueSaw.push(msg) });
    await rogueClient.flush();
    edgeA = await deployment.startEdge('A', brokerA.url, edgeLog.logger);
  }, 60_000);
  afterAll(async () => {
    await rogueClient?.close();
    await deployment?.close();
  });

  it("receives nothing of store A's: POS commands with the PIN, events, acks, authorisation requests and their answers", async () => {
    const pos = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), { terminal: 'pos-1' }));
    const terminal = { storeId: 'A', terminalId: 'pos-1', pinKey: loadPinKey(deployment.bundle('A').terminal('pos-1').pinKey) };
    const loaded = await sendPosCommand(
      pos,
      terminal,
      { commandId: 'load-1', load: { amount: 10_000, pin: PIN } },
      { attempts: 1, timeoutMs: 5000 },
    );
    expect(loaded.commandId).toBe('load-1');
    await edgeA.log.append([purchase(1), purchase(2)]);
    await edgeA.replicator.whenConfirmed(2);
    const asked = await edgeA.purse!.link.inquire('pos-1', { pending: { cardId: '00000000000000a1', cardCounter: 0 } });
    expect(asked).toMatchObject({ ok: true, code: 'none' });
    await rogueClient.flush();

    const leaked = rogueSaw.filter((msg) => ofStoreA(msg.subject) || decoder.decode(msg.data).includes(PIN));
    expect(leaked.map((msg) => msg.subject)).toEqual([]);
  });

  it("publishes head office's and store A's subjects to no effect: blacklist, acks, events, requests, the JetStream API", async () => {
    const auditor = await deployment.connectAuditor();
    const eventsJsm = await jetstreamManager(auditor, { checkAPI: false });
    const storedBefore = (await eventsJsm.streams.info(EVENTS_STREAM)).state.messages;
    const edgeSide = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), 'store'));
    const reachedA: Msg[] = [];
    for (const subject of [subjects.blacklistChanges, subjects.ack('A'), subjects.snapshot('A')])
      edgeSide.subscribe(subject, { callback: (_error, msg) => void reachedA.push(msg) });
    await edgeSide.flush();

    const change = pb.BlacklistChange.encode({
      version: 1,
      cardId: FAKE_CARD,
      blacklisted: true,
      reason: 'forged by the rogue',
      atMs: Date.now(),
    }).finish();
    rogueClient.publish(subjects.blacklistChanges, change);
    rogueClient.publish(subjects.ack('A'), pb.StoreAck.encode({ storeId: 'A', confirmedSeq: 1_000_000 }).finish());
    rogueClient.publish(subjects.events('A'), new TextEncoder().encode('forged batch'));
    rogueClient.publish(subjects.snapshotMessage('A', 1), new TextEncoder().encode('forged snapshot'));
    const unanswered = (subject: string) =>
      rogueClient.request(subject, new Uint8Array(0), { timeout: 1500 }).then(
        () => 'answered',
        () => 'unanswered',
      );
    const asked = [
      subjects.inquiry('A'),
      subjects.lookup('A'),
      subjects.pos('A', 'pos-1'),
      `$JS.API.DIRECT.GET.${SNAPSHOTS_STREAM}`,
      `$JS.API.DIRECT.GET.${SNAPSHOTS_STREAM}.${subjects.snapshotMessage('A', 1)}`,
      `${subjects.snapshotApi('A')}.DIRECT.GET.${SNAPSHOTS_STREAM}.${subjects.snapshotMessage('A', 1)}`,
      `$JS.API.STREAM.DELETE.${EVENTS_STREAM}`,
    ];
    expect(await Promise.all(asked.map(unanswered))).toEqual(asked.map(() => 'unanswered'));

    expect(reachedA.map((msg) => msg.subject)).toEqual([]);
    expect(edgeA.purse!.blacklist.find(FAKE_CARD)).toBeUndefined();
    expect(edgeA.replicator.progress().confirmedSeq).toBe(edgeA.log.headSeq);
    expect((await eventsJsm.streams.info(EVENTS_STREAM)).state.messages).toBe(storedBefore);
    expect(edgeA.pos!.refused.total).toBe(0);
    expect(deployment.host.refused.total).toBe(0);
    // Head office's blacklist, as it tells store A, is unchanged.
    const storeA = await deployment.connectToHub('A', 'store');
    const sync = await storeA.request(
      subjects.blacklistSync('A'),
      pb.BlacklistSyncRequest.encode({ storeId: 'A', knownVersion: 0 }).finish(),
      { timeout: 5000 },
    );
    expect(pb.BlacklistSyncReply.decode(sync.data)).toMatchObject({ version: 0, unchanged: true });
  });
});
