// One identity per POS terminal, attacked with the terminal's own credentials against the store's
// real broker: terminal pos-1 cannot publish on pos-2's subject (nats-server refuses it), and a
// command that names pos-2 in its body still runs on pos-1, the terminal whose subject it came on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInbox } from '@nats-io/transport-node';
import { pb, subjects } from '../../contracts/index.js';
import type { EdgeNode } from '../../edge/index.js';
import { decodePosReply, sendPosCommand } from '../../edge/pos/index.js';
import { storeNatsOptions } from '../../host/provisioning/index.js';
import { inboxPrefixOf } from '../../infra/nats/index.js';
import { NoCardError } from '../../reader/index.js';
import { permissionViolation } from '../support/nats-permissions.js';
import { capturingLogger } from '../../testkit/backbone.js';
import { startDeployment, type Broker, type Deployment } from './deployment.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 700));

describe('one identity per POS terminal', () => {
  let deployment: Deployment;
  let brokerA: Broker;
  let edgeA: EdgeNode;
  const edgeLog = capturingLogger();
  /** Whose card reader the edge opened, in order. */
  const readersDriven: string[] = [];

  beforeAll(async () => {
    deployment = await startDeployment(['A']);
    brokerA = await deployment.startBroker('A');
    edgeA = await deployment.startEdge('A', brokerA.url, edgeLog.logger, {
      cardReader: (terminalId) => {
        readersDriven.push(terminalId);
        throw new NoCardError(`reader of ${terminalId} is empty`);
      },
    });
  }, 60_000);
  afterAll(async () => {
    await deployment?.close();
  });

  const terminal = (terminalId: string) =>
    deployment.connect(brokerA.url, storeNatsOptions(deployment.bundleDir('A'), { terminal: terminalId }));

  it("terminal pos-1's credentials publishing on pos-2's subject are refused by nats-server: pos-2's reader is never driven", async () => {
    const pos1 = await terminal('pos-1');
    const command = pb.PosCommand.encode({ commandId: 'steal-1', storeId: 'A', read: {} }).finish();
    const refused = permissionViolation(pos1, subjects.pos('A', 'pos-2'));
    pos1.publish(subjects.pos('A', 'pos-2'), command, {
      reply: createInbox(inboxPrefixOf({ role: 'pos', storeId: 'A', terminalId: 'pos-1' })),
    });
    expect((await refused).message).toBe('Permissions Violation for Publish to "cardsys.pos.A.pos-2"');
    await expect(pos1.request(subjects.pos('A', 'pos-2'), command, { timeout: 3000 })).rejects.toThrow(
      'Permissions Violation for Publish to "cardsys.pos.A.pos-2"',
    );
    await settle();
    expect(readersDriven).toEqual([]);
    expect(edgeA.pos!.refused.total).toBe(0);
  });

  it('a command whose body names pos-2 runs on pos-1, the terminal whose subject it came on', async () => {
    const pos1 = await terminal('pos-1');
    const lying = pb.PosCommand.encode({ commandId: 'lie-1', storeId: 'A', terminalId: 'pos-2', read: {} }).finish();
    const reply = await pos1.request(subjects.pos('A', 'pos-1'), lying, {
      timeout: 5000,
      noMux: true,
      reply: createInbox(inboxPrefixOf({ role: 'pos', storeId: 'A', terminalId: 'pos-1' })),
    });
    expect(decodePosReply(reply.data)).toMatchObject({
      commandId: 'lie-1',
      ok: false,
      code: 'no_card',
      message: 'no card in the reader of terminal pos-1',
    });
    expect(readersDriven).toEqual(['pos-1']);
    expect(edgeLog.lines).toContain(
      'pos A: command lie-1 from terminal pos-1 names terminal "pos-2"; it runs on pos-1, the terminal it came from',
    );

    // pos-2 with its own credentials drives its own reader.
    const pos2 = await terminal('pos-2');
    const own = await sendPosCommand(
      pos2,
      { storeId: 'A', terminalId: 'pos-2' },
      { commandId: 'own-1', read: {} },
      { attempts: 1, timeoutMs: 5000 },
    );
    expect(own).toMatchObject({ ok: false, code: 'no_card', message: 'no card in the reader of terminal pos-2' });
    expect(readersDriven).toEqual(['pos-1', 'pos-2']);
  });
});
