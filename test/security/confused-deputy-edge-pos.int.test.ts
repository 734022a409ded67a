import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { PermissionViolationError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { EVENTS_STREAM, pb, subjects } from '../../contracts/index.js';
import type { EdgeNode } from '../../edge/index.js';
import { sendPosCommand } from '../../edge/pos/index.js';
import { storeNatsOptions } from '../../host/provisioning/index.js';
import { capturingLogger } from '../../testkit/backbone.js';
import { startDeployment, type Broker, type Deployment } from './deployment.js';

const HOSTILE_REPLIES = [
  subjects.ack('B'),
  subjects.events('B'),
  subjects.blacklistChanges,
  subjects.inquiry('B'),
  subjects.events('A'),
  subjects.inquiry('A'),
  '$JS.API.STREAM.DELETE.CARDSYS_EVENTS',
  // Another terminal's inbox: terminal pos-1 cannot have the edge answer pos-2.
  '_INBOX.pos.A.pos-2.stolen',
];

const readCommand = (n: number) => pb.PosCommand.encode({ commandId: `attack-${n}`, storeId: 'A', read: {} }).finish();
const POS_1 = subjects.pos('A', 'pos-1');

function listen(nc: NatsConnection, watched: string[]): Msg[] {
  const seen: Msg[] = [];
  for (const subject of watched) nc.subscribe(subject, { callback: (_error, msg) => void seen.push(msg) });
  return seen;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 700));

describe('confused deputy at the edge through a POS terminal', () => {
  let deployment: Deployment;
  let brokerA: Broker;
  let edgeA: EdgeNode;
  const edgeLog = capturingLogger();

  beforeAll(async () => {
    deployment = await startDeployment(['A', 'B']);
    brokerA = await deployment.startBroker('A');
    edgeA = await deployment.startEdge('A', brokerA.url, edgeLog.logger);
  }, 60_000);
  afterAll(async () => {
    await deployment?.close();
  });

  it("refuses every reply subject outside the POS inbox: nothing reaches store B's or head office's subjects", async () => {
    const storeB = await deployment.connectToHub('B', 'store');
    const auditor = await deployment.connectAuditor();
    const seen = [...listen(storeB, [subjects.ack('B'), subjects.blacklistChanges]), ...listen(auditor, [subjects.eventsAll])];
    const ownEdge = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), 'store'));
    seen.push(...listen(ownEdge, [subjects.blacklistChanges]));
    await Promise.all([storeB.flush(), auditor.flush(), ownEdge.flush()]);
    const eventsJsm = await jetstreamManager(auditor, { checkAPI: false });
    const storedBefore = (await eventsJsm.streams.info(EVENTS_STREAM)).state.messages;

    const pos2 = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), { terminal: 'pos-2' }));
    const pos2Saw: Msg[] = listen(pos2, ['_INBOX.pos.A.pos-2.>']);
    await pos2.flush();
    const pos = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), { terminal: 'pos-1' }));
    for (const [n, reply] of HOSTILE_REPLIES.entries()) pos.publish(POS_1, readCommand(n), { reply });
    await pos.flush();
    await settle();

    expect(edgeA.pos!.refused.total).toBe(HOSTILE_REPLIES.length);
    for (const reply of HOSTILE_REPLIES) {
      expect(edgeLog.lines).toContain(
        `pos A: request on cardsys.pos.A.pos-1 refused, not answered: its reply subject "${reply}" lies outside pos A/pos-1's inbox _INBOX.pos.A.pos-1.>`,
      );
    }
    expect(seen.map((msg) => msg.subject)).toEqual([]);
    expect(pos2Saw.map((msg) => msg.subject)).toEqual([]);
    expect((await eventsJsm.streams.info(EVENTS_STREAM)).state.messages).toBe(storedBefore);

    // A command asked properly is answered.
    const reply = await sendPosCommand(
      pos,
      { storeId: 'A', terminalId: 'pos-1' },
      { commandId: 'proper-1', read: {} },
      { attempts: 1, timeoutMs: 5000 },
    );
    expect(reply.commandId).toBe('proper-1');
  });

  it("an edge that answered anyway could not: store A's edge credentials publish replies only into the POS inbox", async () => {
    const storeB = await deployment.connectToHub('B', 'store');
    const seen = listen(storeB, [subjects.ack('B'), subjects.blacklistChanges]);
    await storeB.flush();
    const careless = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), 'store'));
    const violations: string[] = [];
    void (async () => {
      for await (const status of careless.status()) {
        if (status.type === 'error' && status.error instanceof PermissionViolationError) violations.push(status.error.subject);
      }
    })();
    careless.subscribe(subjects.posAll('A'), {
      queue: 'careless',
      callback: (_error, msg) => void msg.respond(new TextEncoder().encode('whatever you say')),
    });
    await careless.flush();
    const pos = await deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), { terminal: 'pos-1' }));
    for (const reply of [subjects.ack('B'), subjects.blacklistChanges]) pos.publish(POS_1, readCommand(100), { reply });
    await pos.flush();
    await settle();
    expect(violations).toEqual(expect.arrayContaining([subjects.ack('B'), subjects.blacklistChanges]));
    expect(seen).toEqual([]);
  });
});
