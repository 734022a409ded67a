// Head office's hub as a 3-node JetStream cluster (the configurations `cardsys host nats-config
// --cluster 3` writes: TLS routes, R3 streams, each store's broker a leaf of every node) through node
// failures, while two stores replicate 2,000 events each and a POS terminal at store A loads and pays
// in a loop. One node killed (-9): nothing lost or doubled, every load authorised within its
// timeout, and the node catches up when it is back. Two nodes down (no quorum): store A keeps
// paying, and both stores catch up once the quorum is back.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bankId, bankIdDigits, newBlankCard } from '../../card/index.js';
import { decodeEnvelope, EVENTS_STREAM, loadPinKey, terminalPinKey, type EventEnvelope } from '../../contracts/index.js';
import { DEFAULT_LOAD_LIMITS, MAX_PURSE_BALANCE } from '../../domain/index.js';
import type { EdgeNode } from '../../edge/index.js';
import { decodePosReply, encodePosCommand } from '../../edge/pos/index.js';
import { CHAIN_HEAD_RECORD_TYPE, originStreamName } from '../../eventstore/index.js';
import { tokenFor } from '../../host/api/index.js';
import { headOfficeNatsOptions } from '../../host/provisioning/index.js';
import type { NatsServer } from '../../infra/nats/index.js';
import { ChipTerminal, InProcessCard } from '../../reader/index.js';
import { capturingLogger, purchase, sequencesOf } from '../../testkit/backbone.js';
import { until } from '../../testkit/purse-world.js';
import { startDeployment, type Deployment } from '../security/deployment.js';

/** Events each store replicates besides its POS terminal's while a hub node is killed. */
const EVENTS_PER_STORE = 20_000;
const CHUNK = 50;
/** The edge asks head office twice for an authorisation, 5 s each: a load slower than that has timed out. */
const LOAD_TIMEOUT_MS = 10_000;
const AMOUNT = 1_000;
const OPENING = 10_000_000;
const TERMINAL = 'pos-1';
const CARD_ID = 'c1a57e4000000001';

interface PosOutcome {
  kind: 'load' | 'pay';
  ok: boolean;
  code: string;
  message: string;
  ms: number;
  at: number;
}

describe('head office on a 3-node hub cluster', () => {
  let deployment: Deployment;
  let jsm: JetStreamManager;
  const edges = new Map<string, EdgeNode>();
  const log = capturingLogger();
  let card: InProcessCard;
  let account: string;
  let pinKey: Uint8Array;
  let commands = 0;

  beforeAll(async () => {
    // The loop loads far more than a card's daily limit: the scheme's limits are lifted to the chip's own.
    deployment = await startDeployment(['A', 'B'], {
      hubNodes: 3,
      loadLimits: { ...DEFAULT_LOAD_LIMITS, balanceCap: MAX_PURSE_BALANCE, dailyLoadLimit: MAX_PURSE_BALANCE },
    });
    const nc = await deployment.connect(deployment.hubUrl, { ...headOfficeNatsOptions(deployment.hqDataDir)('ingest'), reconnect: true });
    jsm = await jetstreamManager(nc);
    // A card issued for an account at the bank, in store A's reader.
    const master = deployment.issuerKeys;
    card = new InProcessCard(newBlankCard(master.transport));
    const bank = bankId('0001', '234', '7654321');
    await new ChipTerminal(card, { keys: master, terminalName: 'hq-issuance' }).initialise(master, {
      cardId: CARD_ID,
      expiry: '2030-12',
      pin: '1234',
      bankId: bank,
    });
    account = bankIdDigits(bank);
    const feed = await tokenFor(deployment.hqDataDir, 'bank-feed', 'cluster-test');
    const opened = await fetch(`${deployment.host.url}/v1/bank-accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${feed}`, 'content-type': 'application/json' },
      body: JSON.stringify({ bankCode: '0001', branchCode: '234', accountNumber: '7654321', balance: OPENING }),
    });
    expect(opened.status).toBe(201);
    // Head office issued the card for the account (no card head office never issued is loaded).
    await deployment.host.hqWriter.append([
      {
        event: {
          type: 'CardPrimaryIssued',
          data: { cardId: CARD_ID, userId: 'cluster-user', bankId: account, expiry: '2030-12-31', keyVersion: 1 },
        },
        streamId: `card-${CARD_ID}`,
      },
    ]);
    for (const storeId of ['A', 'B']) {
      const broker = await deployment.startBroker(storeId);
      edges.set(storeId, await deployment.startEdge(storeId, broker.url, log.logger, { cardReader: () => card }));
    }
    pinKey = terminalPinKey(loadPinKey(deployment.bundle('A').pinMasterKey), 'A', TERMINAL);
  }, 120_000);
  afterAll(async () => {
    await deployment?.close();
  });

  const edge = (storeId: string) => edges.get(storeId)!;

  const pos = async (kind: 'load' | 'pay'): Promise<PosOutcome> => {
    const commandId = `cluster-${++commands}`;
    const command = kind === 'load' ? { load: { amount: AMOUNT, pin: '1234' } } : { pay: { amount: AMOUNT } };
    const started = Date.now();
    const reply = decodePosReply(
      await edge('A').pos!.handle(encodePosCommand({ storeId: 'A', terminalId: TERMINAL, pinKey }, { commandId, ...command }), TERMINAL),
    );
    return { kind, ok: reply.ok, code: reply.code, message: reply.message, ms: Date.now() - started, at: started };
  };

  /** Loads and pays at store A, one after the other, until `stopped` says so. */
  const posLoop = (kinds: Array<'load' | 'pay'>, stopped: () => boolean) => {
    const outcomes: PosOutcome[] = [];
    const done = (async () => {
      for (let i = 0; !stopped(); i++) {
        outcomes.push(await pos(kinds[i % kinds.length]!));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    return { outcomes, done };
  };

  /** Appends `count` events to the store's log in chunks, as a busy counter would. */
  const feed = async (storeId: string, from: number, count: number) => {
    for (let at = from; at < from + count; at += CHUNK) {
      await edge(storeId).log.append(Array.from({ length: Math.min(CHUNK, from + count - at) }, (_, k) => purchase(at + k)));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  const stored = async (storeId: string): Promise<EventEnvelope[]> =>
    (await deployment.host.store.readStream(originStreamName(storeId)))
      .filter((record) => record.type !== CHAIN_HEAD_RECORD_TYPE)
      .map((record) => decodeEnvelope(record.data));

  /** Every store's log is at head office, each event once and in order. */
  const expectAllReplicated = async () => {
    for (const storeId of ['A', 'B']) {
      await edge(storeId).replicator.whenConfirmed(edge(storeId).log.headSeq);
      expect(sequencesOf(await stored(storeId))).toEqual({
        count: edge(storeId).log.headSeq,
        inOrder: true,
        unique: edge(storeId).log.headSeq,
      });
    }
  };

  /** Head office's books against the chip: one debit per load the POS saw authorised, none twice. */
  const expectBooksMatchChip = async (loads: number, pays: number) => {
    const events = await stored('A');
    expect(events.filter((e) => e.eventType === 'PurseLoaded')).toHaveLength(loads);
    expect(events.filter((e) => e.eventType === 'PursePaid').length).toBeGreaterThanOrEqual(pays);
    const hq = (await deployment.host.store.readStream('hq')).filter((r) => r.type === 'LoadAuthorised');
    expect(hq).toHaveLength(loads);
    const auditor = await tokenFor(deployment.hqDataDir, 'auditor', 'cluster-test');
    const balance = (await (
      await fetch(`${deployment.host.url}/v1/bank-accounts/${account}`, { headers: { authorization: `Bearer ${auditor}` } })
    ).json()) as { balance: number };
    expect(balance.balance).toBe(OPENING - loads * AMOUNT);
    expect(card.state.issued!.balance).toBe((loads - pays) * AMOUNT);
  };

  const leaderNode = async (): Promise<NatsServer> => {
    const leader = (await jsm.streams.info(EVENTS_STREAM)).cluster?.leader;
    const index = Number(/-(\d+)$/.exec(leader ?? '')?.[1]) - 1;
    expect(index, `events stream leader ${leader}`).toBeGreaterThanOrEqual(0);
    return deployment.hubs[index]!;
  };

  /** Waits until every node holds the events stream up to date; the time it took. */
  const replicasCurrent = async (): Promise<number> => {
    const started = Date.now();
    await until(
      async () => {
        const info = await jsm.streams.info(EVENTS_STREAM).catch(() => undefined);
        const replicas = info?.cluster?.replicas ?? [];
        return (
          info?.cluster?.leader !== undefined &&
          replicas.length === 2 &&
          replicas.every((r) => r.current && !r.offline && (r.lag ?? 0) === 0)
        );
      },
      'every node to hold the events stream up to date',
      60_000,
    );
    return Date.now() - started;
  };

  let loadsDone = 0;
  let paysDone = 0;

  it(`kill -9 of the events stream's leader node while two stores replicate ${EVENTS_PER_STORE} events each and a POS loads and pays: nothing lost or doubled, every load authorised within its timeout; the node comes back and catches up`, async () => {
    let stop = false;
    const loop = posLoop(['load', 'pay'], () => stop);
    const feeding = ['A', 'B'].map((storeId) => feed(storeId, 0, EVENTS_PER_STORE / 2));
    await Promise.all(feeding);
    const victim = await leaderNode();
    const killedAt = Date.now();
    await victim.kill();
    await Promise.all(['A', 'B'].map((storeId) => feed(storeId, EVENTS_PER_STORE / 2, EVENTS_PER_STORE / 2)));
    // Loads go on for a while after the kill.
    await until(
      () => loop.outcomes.filter((o) => o.kind === 'load' && o.at > killedAt + 3_000).length >= 3,
      'loads after the kill',
      60_000,
    );
    stop = true;
    await loop.done;
    await expectAllReplicated();
    const replicatedMs = Date.now() - killedAt;

    const loads = loop.outcomes.filter((o) => o.kind === 'load');
    expect(
      loads.filter((o) => !o.ok),
      'refused loads',
    ).toEqual([]);
    expect(Math.max(...loads.map((o) => o.ms))).toBeLessThan(LOAD_TIMEOUT_MS);
    expect(loop.outcomes.filter((o) => o.kind === 'pay' && !o.ok)).toEqual([]);
    loadsDone += loads.length;
    paysDone += loop.outcomes.length - loads.length;
    await expectBooksMatchChip(loadsDone, paysDone);

    const restartedAt = Date.now();
    await victim.start();
    const catchUpMs = await replicasCurrent();
    const afterKill = loads.filter((o) => o.at >= killedAt);
    process.stderr.write(
      `hub cluster, one node killed: ${loads.length} loads (slowest ${Math.max(...loads.map((o) => o.ms))} ms, ` +
        `slowest after the kill ${Math.max(...afterKill.map((o) => o.ms))} ms), every event at head office ${replicatedMs} ms after the kill; ` +
        `the node back and current ${Date.now() - restartedAt} ms after its restart (${catchUpMs} ms waiting)\n`,
    );
  }, 180_000);

  it('two nodes down (no quorum): store A keeps paying while its events wait; when the quorum is back both stores catch up, nothing lost or doubled', async () => {
    // Value on the card to pay from.
    for (let i = 0; i < 5; i++) expect(await pos('load')).toMatchObject({ ok: true });
    loadsDone += 5;
    const leader = await leaderNode();
    const down = [leader, deployment.hubs.find((node) => node !== leader)!];
    for (const node of down) await node.kill();
    const headBefore = edge('A').log.headSeq;
    let stop = false;
    const loop = posLoop(['pay'], () => stop);
    await Promise.all(['A', 'B'].map((storeId) => feed(storeId, EVENTS_PER_STORE, 200)));
    await until(() => loop.outcomes.length >= 5, 'pays without a quorum', 60_000);
    stop = true;
    await loop.done;
    expect(loop.outcomes.filter((o) => !o.ok)).toEqual([]);
    paysDone += loop.outcomes.length;
    // Nothing of it can be confirmed without a quorum.
    expect(edge('A').replicator.progress().confirmedSeq).toBeLessThanOrEqual(headBefore);

    const backAt = Date.now();
    for (const node of down) await node.start();
    await expectAllReplicated();
    const caughtUpMs = Date.now() - backAt;
    await expectBooksMatchChip(loadsDone, paysDone);
    await replicasCurrent();
    process.stderr.write(
      `hub cluster, quorum lost: ${loop.outcomes.length} pays meanwhile; both stores caught up ${caughtUpMs} ms after the nodes restarted\n`,
    );
  }, 180_000);
});
