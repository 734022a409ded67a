// The writer lease on a real PostgreSQL server and the leadership that rides on it: one holder at a
// time, a holder that dies or stalls past the lease loses it, and a writer that another writer got
// ahead of is refused by expected revision, steps down and does not try again.

import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../contracts/index.js';
import { PostgresEventStore, WrongExpectedRevisionError } from '../../eventstore/index.js';
import { HqWriter, NotWriterError } from '../../host/hq-writer/index.js';
import { type HeldLease, Leadership, PostgresWriterLease } from '../../host/leadership/index.js';
import { capturingLogger } from '../../testkit/backbone.js';
import { describeOnPostgres, postgresForTests } from '../support/postgres.js';

describeOnPostgres('writer lease and leadership on PostgreSQL', await postgresForTests(), (postgres) => {
  afterAll(() => postgres.dropSchemas());
  const urlOf = (schema: string) => `${postgres.url}?schema=${schema}`;
  const me = (name: string) => ({
    instance: `test:${name}`,
    apiUrl: `http://127.0.0.1/${name}`,
  });
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
  });
  const lease = async (schema: string, options: { heartbeatMs?: number; timeoutMs?: number } = {}) => {
    const made = await PostgresWriterLease.connect(urlOf(schema), {
      ...options,
      logger: capturingLogger().logger,
    });
    opened.push(made);
    return made;
  };

  describe('writer lease on PostgreSQL', () => {
    it('has one holder at a time, shown to the others with its term; given up, the next holder gets the next term', async () => {
      const schema = postgres.freshSchema();
      const [first, second] = [await lease(schema), await lease(schema)];
      const held = (await first.tryAcquire(me('a')))!;
      expect(held.holder).toMatchObject({
        instance: 'test:a',
        apiUrl: 'http://127.0.0.1/a',
        term: 1,
      });
      expect(await second.tryAcquire(me('b'))).toBeUndefined();
      expect(await second.holder()).toMatchObject({
        instance: 'test:a',
        term: 1,
      });
      // Another schema is another head office: its lease is its own.
      expect((await (await lease(postgres.freshSchema())).tryAcquire(me('c')))?.holder.term).toBe(1);

      await held.release();
      expect(await held.lost).toBe('given up');
      expect(await second.holder()).toBeUndefined();
      const next = (await second.tryAcquire(me('b')))!;
      expect(next.holder).toMatchObject({ instance: 'test:b', term: 2 });
      await next.release();
    });

    it("is lost at once when the holder's session ends (the holder died)", async () => {
      const schema = postgres.freshSchema();
      const [first, second] = [await lease(schema), await lease(schema)];
      const held = (await first.tryAcquire(me('a')))!;
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'cardsys-host-lease' AND pid IN (SELECT pid FROM "${schema}".writer_lease)`,
      );
      await client.end();
      expect(await held.lost).toMatch(/session (failed|ended)/);
      expect((await second.tryAcquire(me('b')))?.holder.term).toBe(2);
    });

    it('a holder stalled past the timeout loses it to the server; awake, it learns so before acting', async () => {
      const schema = postgres.freshSchema();
      const stalled = await lease(schema, {
        heartbeatMs: 200,
        timeoutMs: 1000,
      });
      const other = await lease(schema);
      const held: HeldLease = (await stalled.tryAcquire(me('a')))!;
      let lostReason: string | undefined;
      void held.lost.then((reason) => (lostReason = reason));
      // The whole event loop stops, as in a paused process: no pings reach the server.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2500);
      const taken = await other.tryAcquire(me('b'));
      expect(taken?.holder).toMatchObject({ instance: 'test:b', term: 2 });
      await expect.poll(() => lostReason, { timeout: 2000 }).toMatch(/has not answered|session (failed|ended)|ping failed/);
      await taken!.release();
    });
  });

  describe('leadership on the lease', () => {
    it('a writer that another writer got ahead of is refused by expected revision, steps down, and leaves the lease to the other', async () => {
      const schema = postgres.freshSchema();
      const store = await PostgresEventStore.connect(urlOf(schema));
      opened.push(store);
      const signingKey = generateSigningKey();
      const logs = { a: capturingLogger(), b: capturingLogger() };
      const started: string[] = [];
      const leadershipOf = async (name: 'a' | 'b') => {
        const leadership = new Leadership({
          lease: await lease(schema),
          logger: logs[name].logger,
          pollMs: 200,
          lead: async (holder, fenced) => {
            started.push(`${name}:${holder.term}`);
            const hqWriter = await HqWriter.open({
              store,
              signingKey,
              fenced: (error) => fenced(error.message),
            });
            return { hqWriter, stop: async () => undefined };
          },
          follow: async () => ({
            hqWriter: undefined,
            stop: async () => undefined,
          }),
        });
        opened.push({ close: () => leadership.stop() });
        await leadership.start(me(name));
        return leadership;
      };
      const a = await leadershipOf('a');
      const b = await leadershipOf('b');
      expect([a.currentRole, b.currentRole]).toEqual(['leader', 'follower']);
      expect(() => b.leader()).toThrow(NotWriterError);
      const staleWriter = a.leader().hqWriter;
      await staleWriter.append([
        {
          streamId: 'hq-writer',
          event: {
            type: 'HeadOfficeWriterStarted',
            data: { instance: 'test:a', apiUrl: me('a').apiUrl, term: 1 },
          },
        },
      ]);

      // Another writer appends to hq while a still believes it writes (as after a pause past its lease).
      const intruder = await HqWriter.open({ store, signingKey });
      await intruder.append([
        {
          streamId: 'hq-writer',
          event: {
            type: 'HeadOfficeWriterStarted',
            data: { instance: 'test:x', apiUrl: 'http://x', term: 9 },
          },
        },
      ]);
      const decision = {
        streamId: 'account-1',
        event: {
          type: 'BankAccountOpened' as const,
          data: { bankId: '00010010000001', balance: 1 },
        },
      };
      await expect(staleWriter.append([decision])).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      // Not tried again: the writer refuses from now on, and the instance steps down.
      await expect(staleWriter.append([decision])).rejects.toBeInstanceOf(NotWriterError);
      await expect.poll(() => a.currentRole, { timeout: 5000 }).toBe('follower');
      expect(logs.a.lines.join('\n')).toMatch(/stepping down from the writer \(term 1\): stream hq: expected revision \d+, actual \d+/);
      await expect.poll(() => b.currentRole, { timeout: 5000 }).toBe('leader');
      expect(b.status()).toMatchObject({
        role: 'leader',
        lease: { holder: { instance: 'test:b', term: 2 } },
      });
      // a waits its turn as a follower: b keeps the lease.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect([a.currentRole, b.currentRole]).toEqual(['follower', 'leader']);
      expect(() => a.leader()).toThrow(/the writer is test:b at http:\/\/127\.0\.0\.1\/b \(term 2\)/);
      expect(started).toEqual(['a:1', 'b:2']);
      expect((await store.readStream('hq')).filter((record) => record.type === 'BankAccountOpened')).toHaveLength(0);
    });
  });
});
