import { afterEach, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import { encodeBatch, subjects } from '../../contracts/index.js';
import { GENESIS_HASH, hashEnvelope, sealEnvelope, signHead, type SealedEnvelope } from '../../contracts/index.js';
import { join } from 'node:path';
import { ProjectionRunner, ReadModelQueries, projections } from '../../projections/index.js';
import { startBackbone, purchase, sequencesOf, type Backbone } from '../../testkit/backbone.js';

let backbone: Backbone | undefined;
afterEach(async () => {
  await backbone?.close();
  backbone = undefined;
});

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A hand-made chain for store `storeId`, to publish batches the way an edge would, or not. */
function chainOf(storeId: string, count: number): SealedEnvelope[] {
  const chain: SealedEnvelope[] = [];
  for (let i = 1; i <= count; i++) chain.push(sealEnvelope(storeId, i, chain.at(-1)?.hash ?? GENESIS_HASH, purchase(i)));
  return chain;
}

function batchOf(b: Backbone, storeId: string, envelopes: SealedEnvelope[]): Uint8Array {
  const last = envelopes.at(-1)!;
  const head = signHead(b.keys.get(storeId)!.key, { storeId, storeSeq: last.envelope.storeSeq, hash: hashEnvelope(last.bytes) });
  return encodeBatch({ storeId, events: envelopes.map((item) => item.bytes), head, localHeadSeq: last.envelope.storeSeq });
}

describe('replication from stores to the host event store', () => {
  it('two stores append 10,000 events each while head office is down; all arrive exactly once, in order', async () => {
    const b = (backbone = await startBackbone(['s1', 's2']));
    const edges = await Promise.all(['s1', 's2'].map((id) => b.startEdge(id)));
    await Promise.all(
      edges.map(async (edge) => {
        for (let i = 0; i < 10_000; i += 500) await edge.log.append(Array.from({ length: 500 }, (_, k) => purchase(i + k)));
      }),
    );
    for (const edge of edges) expect(edge.replicator.progress()).toMatchObject({ headSeq: 10_000, confirmedSeq: 0, unconfirmed: 10_000 });

    await b.startIngest();
    await Promise.all(edges.map((edge) => edge.replicator.whenConfirmed(10_000)));

    for (const edge of edges) {
      const stored = await b.storedEnvelopes(edge.storeId);
      expect(sequencesOf(stored)).toEqual({ count: 10_000, inOrder: true, unique: 10_000 });
      expect(stored.every((envelope) => envelope.storeId === edge.storeId)).toBe(true);
      expect(edge.log.read(1, 10_000).map((entry) => entry.envelope.eventId)).toEqual(stored.map((envelope) => envelope.eventId));
      expect(edge.replicator.progress()).toMatchObject({ confirmedSeq: 10_000, unconfirmed: 0 });
    }

    // The read models built from the host event store match what the stores appended.
    const runner = ProjectionRunner.open({ file: join(b.dir, 'host', 'readmodels.db'), store: b.store, projections });
    try {
      runner.start();
      await runner.waitForPosition((await b.store.headPosition())!);
      const queries = new ReadModelQueries(runner.db);
      for (const edge of edges)
        expect(queries.storeSync(edge.storeId)).toMatchObject({ lastSeqReceived: 10_000, localHeadSeq: 10_000, eventsBehind: 0 });
      // purchase() pays with card id = stream id.
      const appended = edges.flatMap((edge) => edge.log.read(1, 10_000).map((entry) => entry.envelope.streamId));
      const paysPerCard = new Map<string, number>();
      for (const cardId of appended) paysPerCard.set(cardId, (paysPerCard.get(cardId) ?? 0) + 1);
      const usage = runner.db.prepare('SELECT card_id AS cardId, pay_count AS payCount FROM card_usage ORDER BY card_id').all();
      expect(usage).toEqual([...paysPerCard].sort(([a], [b]) => a.localeCompare(b)).map(([cardId, payCount]) => ({ cardId, payCount })));
    } finally {
      await runner.close();
    }
  });

  it('drops a confirmed range sent again under a new message id (outside the duplicate window)', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const edge = await b.startEdge('s1');
    await b.startIngest();
    await edge.log.append(Array.from({ length: 20 }, (_, i) => purchase(i)));
    await edge.replicator.whenConfirmed(20);
    const before = await b.store.streamRevision('store-s1');

    const old = edge.log.read(5, 10);
    const resent = batchOf(
      b,
      's1',
      old.map((entry) => ({ envelope: entry.envelope, bytes: entry.bytes, hash: hashEnvelope(entry.bytes) })),
    );
    const js = jetstream(b.nc);
    const ack = await js.publish(subjects.events('s1'), resent, { msgID: 's1:5-14:days-later' });
    expect(ack.duplicate).toBe(false);

    await edge.log.append([purchase(21)]);
    await edge.replicator.whenConfirmed(21);
    const stored = await b.storedEnvelopes('s1');
    expect(sequencesOf(stored)).toEqual({ count: 21, inOrder: true, unique: 21 });
    // One more event and its chain head, nothing from the re-sent range.
    expect(await b.store.streamRevision('store-s1')).toBe(before! + 2n);
  });

  it('refuses a sequence gap and a broken hash chain with a clear log line and no append', async () => {
    const b = (backbone = await startBackbone(['s1']));
    await b.startIngest();
    const js = jetstream(b.nc);
    const chain = chainOf('s1', 7);
    await js.publish(subjects.events('s1'), batchOf(b, 's1', chain.slice(0, 5)), { msgID: 's1:1-5' });
    await until(async () => (await b.storedEnvelopes('s1')).length === 5, 'the first five events');
    const revision = await b.store.streamRevision('store-s1');

    const acks: string[] = [];
    const sub = b.nc.subscribe(subjects.ack('s1'), { callback: (_, msg) => void acks.push(JSON.stringify(msg.data)) });
    await js.publish(subjects.events('s1'), batchOf(b, 's1', chain.slice(6, 7)), { msgID: 's1:7-7' });
    await until(() => b.log.lines.some((line) => line.includes('refused batch 7-7 of store s1')), 'the gap refusal');
    expect(b.log.lines.find((line) => line.includes('refused batch 7-7'))).toContain(
      'sequence gap: head office has up to 5, batch continues at 7; asking for resend from 6',
    );

    // Event 6 signed properly but linked to a different predecessor.
    const forged = sealEnvelope('s1', 6, hashEnvelope(Uint8Array.of(1, 2, 3)), purchase(6));
    await js.publish(subjects.events('s1'), batchOf(b, 's1', [forged]), { msgID: 's1:6-6:forged' });
    await until(() => b.log.lines.some((line) => line.includes('refused batch 6-6 of store s1')), 'the broken chain refusal');
    expect(b.log.lines.find((line) => line.includes('refused batch 6-6'))).toContain('hash chain broken at sequence 6');

    expect(await b.store.streamRevision('store-s1')).toBe(revision);
    expect(acks.length).toBeGreaterThanOrEqual(2);
    sub.unsubscribe();
  });

  it('refuses malformed protobuf on the events subject, logs it and keeps ingesting', async () => {
    const b = (backbone = await startBackbone(['s1']));
    await b.startIngest();
    const js = jetstream(b.nc);
    await js.publish(subjects.events('s1'), Uint8Array.of(0xff, 0xff, 0xff, 0x0a, 0x99), { msgID: 'garbage' });
    await until(() => b.log.lines.some((line) => line.includes('malformed EventBatch')), 'the malformed message refusal');
    expect(b.log.lines.find((line) => line.includes('malformed EventBatch'))).toMatch(
      /refused message \d+ on cardsys\.events\.s1: malformed EventBatch/,
    );

    await js.publish(subjects.events('s1'), batchOf(b, 's1', chainOf('s1', 3)), { msgID: 's1:1-3' });
    await until(async () => (await b.storedEnvelopes('s1')).length === 3, 'the valid batch after the garbage');
  });

  it('refuses a batch whose head is signed by an unregistered key', async () => {
    const b = (backbone = await startBackbone(['s1']));
    await b.startIngest();
    b.keys.set('s1', { ...b.keys.get('s1')!, key: (await import('../../contracts/chain.js')).generateSigningKey() });
    await jetstream(b.nc).publish(subjects.events('s1'), batchOf(b, 's1', chainOf('s1', 2)), { msgID: 's1:1-2' });
    await until(() => b.log.lines.some((line) => line.includes('refused batch 1-2 of store s1')), 'the refusal');
    expect(b.log.lines.find((line) => line.includes('refused batch 1-2'))).toMatch(
      /store key "[0-9a-f]{16}" is not registered for store "s1"/,
    );
    expect(await b.store.streamRevision('store-s1')).toBeUndefined();
  });

  it('survives a nats-server restart mid-replication: nothing lost, nothing duplicated', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const edge = await b.startEdge('s1', { replication: { maxBatchEvents: 200 } });
    await b.startIngest();
    const appending = (async () => {
      for (let i = 0; i < 6000; i += 100) {
        await edge.log.append(Array.from({ length: 100 }, (_, k) => purchase(i + k)));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    await until(() => edge.replicator.progress().confirmedSeq > 0, 'first confirmation');
    await b.nats.kill();
    expect(edge.replicator.progress().confirmedSeq).toBeLessThan(6000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await b.nats.start();
    await appending;
    await edge.replicator.whenConfirmed(6000);
    expect(sequencesOf(await b.storedEnvelopes('s1'))).toEqual({ count: 6000, inOrder: true, unique: 6000 });
  });
});
