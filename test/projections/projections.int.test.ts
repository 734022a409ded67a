import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../eventstore/index.js';
import { ProjectionRunner, ReadModelQueries, projections, type Projection } from '../../projections/index.js';
import { EnvelopeChain, appendChainBatch } from '../support/envelope-chain.js';
import { cardIssued, cardPrimaryIssued, purseLoaded, pursePaid, storeRegistered, userRegistered } from '../support/host-events.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-projections-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('projections over a real SQLite event store', () => {
  let dir: string;
  let store: SqliteEventStore;
  let hq: EnvelopeChain;
  let storeA: EnvelopeChain;
  const openRunner = (extra: Projection[] = []) =>
    ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store, projections: [...projections, ...extra], batchSize: 7 });
  const caughtUp = async (runner: ProjectionRunner) => runner.waitForPosition((await store.headPosition()) ?? 0n);

  beforeEach(() => {
    dir = mkdtempSync(join(root, 'case-'));
    store = SqliteEventStore.open(join(dir, 'events.db'));
    hq = new EnvelopeChain('hq');
    storeA = new EnvelopeChain('A');
  });
  afterEach(() => store.close());

  /** Head office registers a store and a user with a card; store A issues it and uses the purse. */
  async function seedDay(payments: number): Promise<void> {
    await appendChainBatch(store, hq, [storeRegistered('A', 'Store A'), userRegistered('u1', 'A'), cardPrimaryIssued('c1', 'u1')]);
    await appendChainBatch(store, storeA, [cardIssued('c1', 'u1', 'A'), purseLoaded('c1', 'A', 10_000, 13_000)], { localHeadSeq: 5 });
    for (let i = 1; i <= payments; i++)
      await appendChainBatch(store, storeA, [pursePaid('c1', 'A', 100, 13_000 - 100 * i)], { localHeadSeq: 2 + payments });
  }

  it('builds users, cards, chip usage and store sync status', async () => {
    await seedDay(3);
    const runner = openRunner();
    runner.start();
    await caughtUp(runner);
    const queries = new ReadModelQueries(runner.db);
    const user = queries.user('u1')!;
    expect(user.personal.name).toBe('Name u1');
    expect(user.bank).toMatchObject({ bankCode: '0001', branchCode: '123', accountNumber: '1234567' });
    expect(user.homeStoreId).toBe('A');
    expect(user.cards).toHaveLength(1);
    const card = queries.card('c1')!;
    expect(card).toMatchObject({ userId: 'u1', bankId: '00011231234567', expiry: '2030-12-31', keyVersion: 1, blacklisted: false });
    expect(card.issuance).toMatchObject({ storeId: 'A', terminalId: 'pos-1' });
    expect(card.issuance!.issuedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(card.usage).toMatchObject({
      count: 4,
      loadCount: 1,
      loadedTotal: 10_000,
      payCount: 3,
      paidTotal: 300,
      lastBalance: 12_700,
      lastOperation: 'pay',
      lastStoreId: 'A',
    });
    // UserRegistered names no card; every other seeded card event is indexed.
    expect(queries.cardEventPositions('c1', { limit: 100 })).toHaveLength(6);
    expect(queries.storeSync('A')).toMatchObject({
      name: 'Store A',
      lastSeqReceived: 5,
      localHeadSeq: 5,
      eventsBehind: 0,
      batchesReceived: 4,
    });
    expect(queries.stores().map((s) => s.storeId)).toEqual(['A']);
    expect(queries.user('nobody')).toBeUndefined();
    await runner.close();
  });

  it('resumes from its checkpoint after a stop: appended events counted once, nothing twice', async () => {
    await seedDay(2);
    let runner = openRunner();
    runner.start();
    await caughtUp(runner);
    await runner.close();
    const checkpoint = (await store.headPosition())!;
    // More payments while the runner is down, then a restart from the checkpoint.
    for (let i = 0; i < 20; i++) await appendChainBatch(store, storeA, [pursePaid('c1', 'A', 10, 12_800 - 10 * (i + 1))]);
    runner = openRunner();
    expect(runner.checkpoint()).toBe(checkpoint);
    runner.start();
    await caughtUp(runner);
    // And live events after the restart.
    await appendChainBatch(store, storeA, [pursePaid('c1', 'A', 1, 12_599)]);
    await caughtUp(runner);
    const usage = new ReadModelQueries(runner.db).card('c1')!.usage;
    expect(usage).toMatchObject({ payCount: 23, paidTotal: 200 + 200 + 1, loadCount: 1, lastBalance: 12_599 });
    expect(new ReadModelQueries(runner.db).storeSync('A')!.lastSeqReceived).toBe(2 + 2 + 20 + 1);
    await runner.close();
  });

  it('rolls back a batch whose projection fails, together with its checkpoint', async () => {
    await seedDay(1);
    let failAt: bigint | undefined;
    const exploding: Projection = {
      name: 'exploding',
      version: 1,
      schema: 'CREATE TABLE IF NOT EXISTS exploding_seen (position INTEGER PRIMARY KEY)',
      tables: ['exploding_seen'],
      apply(db, event) {
        if (event.position === failAt) throw new Error(`cannot apply position ${event.position}`);
        db.prepare('INSERT INTO exploding_seen VALUES (?)').run(event.position);
      },
    };
    failAt = (await store.headPosition())!;
    const runner = openRunner([exploding]);
    runner.start();
    await expect.poll(() => runner.status().error).toBe(`cannot apply position ${failAt}`);
    const checkpoint = runner.checkpoint()!;
    expect(checkpoint).toBeLessThan(failAt);
    // The failing batch left nothing behind in any read model: counts match the checkpoint exactly.
    const applied = (runner.db.prepare('SELECT COUNT(*) AS n FROM exploding_seen').get() as { n: number }).n;
    expect(BigInt(applied)).toBe(checkpoint);
    const cardEvents = new ReadModelQueries(runner.db).cardEventPositions('c1', { limit: 100 });
    expect(cardEvents.every((p) => p <= checkpoint)).toBe(true);
    await runner.close();
    // Once fixed, a restart replays exactly the rolled-back batch.
    failAt = undefined;
    const again = openRunner([exploding]);
    again.start();
    await caughtUp(again);
    expect(new ReadModelQueries(again.db).card('c1')!.usage).toMatchObject({ payCount: 1, loadCount: 1 });
    expect((again.db.prepare('SELECT COUNT(*) AS n FROM exploding_seen').get() as { n: number }).n).toBe(
      Number((await store.headPosition())!),
    );
    await again.close();
  });

  it('rebuild from zero equals the incremental result, with progress', async () => {
    await seedDay(30);
    const runner = openRunner();
    runner.start();
    await caughtUp(runner);
    const snapshot = () => {
      const q = new ReadModelQueries(runner.db);
      return { user: q.user('u1'), stores: q.stores(), events: q.cardEventPositions('c1', { limit: 1000 }) };
    };
    const incremental = snapshot();
    const progress: number[] = [];
    const head = (await store.headPosition())!;
    const result = await runner.rebuild((p) => {
      expect(p.headPosition).toBe(head);
      progress.push(p.events);
    });
    expect(result.events).toBe(Number(head));
    expect(progress.at(-1)).toBe(Number(head));
    expect(progress.length).toBeGreaterThan(1);
    expect(snapshot()).toEqual(incremental);
    expect(runner.status().running).toBe(true);
    await runner.close();
  });

  it('a newly registered projection replays from the start while the others continue', async () => {
    await seedDay(1);
    const runner = openRunner();
    runner.start();
    await caughtUp(runner);
    await runner.close();
    const counter: Projection = {
      name: 'counter',
      version: 1,
      schema:
        'CREATE TABLE IF NOT EXISTS counted (n INTEGER NOT NULL); INSERT INTO counted SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM counted)',
      tables: ['counted'],
      apply: (db) => void db.prepare('UPDATE counted SET n = n + 1').run(),
    };
    const withCounter = openRunner([counter]);
    expect(withCounter.checkpoint()).toBeUndefined();
    withCounter.start();
    await caughtUp(withCounter);
    expect((withCounter.db.prepare('SELECT n FROM counted').get() as { n: number }).n).toBe(Number((await store.headPosition())!));
    expect(new ReadModelQueries(withCounter.db).card('c1')!.usage.payCount).toBe(1);
    await withCounter.close();
  });
});
