import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { PostgresEventStore, WrongExpectedRevisionError, type NewRecord, type StoredRecord } from '../../eventstore/index.js';
import { freePort } from '../../infra/index.js';
import { describeOnPostgres, listeningConnections, postgresForTests } from '../support/postgres.js';
import { eventStoreContract } from './event-store.contract.js';

const postgres = await postgresForTests();

const record = (n = 0): NewRecord => ({ id: randomUUID(), type: 'Tested', data: Uint8Array.of(n % 256) });
const untilAsync = async (condition: () => Promise<boolean>, what: string, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const until = (condition: () => boolean, what: string, timeoutMs?: number) => untilAsync(async () => condition(), what, timeoutMs);

describeOnPostgres('the PostgreSQL event store', postgres, (server) => {
  afterAll(() => server.dropSchemas());
  const contractSchema = server.freshSchema();
  eventStoreContract({
    name: `PostgreSQL at ${server.url}`,
    open: () => PostgresEventStore.connect(server.url, { schema: contractSchema }),
  });

  describe('PostgresEventStore, beyond the contract', () => {
    /** Store objects of their own pools and listening connections: as two head-office processes would be. */
    const open = (schema: string, pollMs?: number, warnings: string[] = []) =>
      PostgresEventStore.connect(server.url, {
        schema,
        ...(pollMs === undefined ? {} : { pollMs }),
        logger: { warn: (message: string) => warnings.push(message) },
      });

    it('two writers appending at once: a subscriber gets every event once, in position order, none skipped', async () => {
      const schema = server.freshSchema();
      const [first, second, reader] = await Promise.all([open(schema), open(schema), open(schema, 50)]);
      try {
        const received: StoredRecord[] = [];
        const subscription = reader.subscribeToAll({ handler: (batch) => void received.push(...batch) });
        const writeMany = async (store: PostgresEventStore, name: string) => {
          for (let append = 0; append < 40; append++)
            await store.appendToStream(`${name}-${append % 4}`, [record(append), record(append + 1), record(append + 2)]);
        };
        await Promise.all([writeMany(first, 'a'), writeMany(second, 'b'), writeMany(first, 'c'), writeMany(second, 'd')]);
        const all = await reader.readAll();
        expect(all).toHaveLength(4 * 40 * 3);
        // A subscriber that skipped an event never catches up: the comparison below names what it lacks.
        await until(() => received.length >= all.length, 'the subscriber to catch up').catch(() => undefined);
        await subscription.stop();
        expect(received.map((r) => r.id)).toEqual(all.map((r) => r.id));
        const positions = received.map((r) => r.position);
        expect(positions.every((position, i) => i === 0 || position > positions[i - 1]!)).toBe(true);
      } finally {
        await Promise.all([first.close(), second.close(), reader.close()]);
      }
    });

    it('two writers expecting the same revision: exactly one append wins, the other is told the revision moved', async () => {
      const schema = server.freshSchema();
      const [first, second] = await Promise.all([open(schema), open(schema)]);
      try {
        await first.appendToStream('hq', [record()], 'no_stream');
        for (let round = 0n; round < 15n; round++) {
          const outcomes = await Promise.allSettled([
            first.appendToStream('hq', [record()], round),
            second.appendToStream('hq', [record()], round),
          ]);
          expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
          const refused = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')!;
          expect(refused.reason).toBeInstanceOf(WrongExpectedRevisionError);
          expect(refused.reason).toMatchObject({ actual: round + 1n });
        }
        expect(await second.streamRevision('hq')).toBe(15n);
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
    });

    it("wakes a subscription on another process's append by NOTIFY, well before its poll", async () => {
      const schema = server.freshSchema();
      const [writer, reader] = await Promise.all([open(schema), open(schema, 60_000)]);
      try {
        const received: string[] = [];
        const subscription = reader.subscribeToAll({ handler: (batch) => void received.push(...batch.map((r) => r.id)) });
        await untilAsync(async () => (await listeningConnections(server.url, schema)) === 1, 'the listening connection');
        const appended = record();
        const started = Date.now();
        await writer.appendToStream('s', [appended]);
        await until(() => received.includes(appended.id), 'the notified append', 5000);
        expect(Date.now() - started).toBeLessThan(5000);
        await subscription.stop();
      } finally {
        await Promise.all([writer.close(), reader.close()]);
      }
    });

    it('keeps delivering when its listening connection is killed, says so, and listens again', async () => {
      const schema = server.freshSchema();
      const warnings: string[] = [];
      const [writer, reader] = await Promise.all([open(schema), open(schema, 200, warnings)]);
      const listeners = async () => listeningConnections(server.url, schema);
      try {
        const received: string[] = [];
        const subscription = reader.subscribeToAll({ handler: (batch) => void received.push(...batch.map((r) => r.id)) });
        await untilAsync(async () => (await listeners()) === 1, 'the listening connection');
        expect(await listeningConnections(server.url, schema, true)).toBe(1);
        await until(() => warnings.some((w) => w.includes('listening connection lost')), 'the warning');
        const appended = record();
        await writer.appendToStream('s', [appended]);
        await until(() => received.includes(appended.id), 'the polled append');
        await untilAsync(async () => (await listeners()) === 1, 'listening again');
        const later = record();
        await writer.appendToStream('s', [later]);
        await until(() => received.includes(later.id), 'the next append');
        await subscription.stop();
        expect(received).toEqual([appended.id, later.id]);
      } finally {
        await Promise.all([writer.close(), reader.close()]);
      }
    });

    it('names the server, without its password, when it cannot be reached, and refuses a bad schema name', async () => {
      const url = `postgres://postgres:secret@127.0.0.1:${await freePort()}/test`;
      const refused = PostgresEventStore.connect(url);
      await expect(refused).rejects.toThrow(`cannot open the PostgreSQL event store at postgres://postgres:***@127.0.0.1:`);
      await expect(refused).rejects.not.toThrow('secret');
      await expect(PostgresEventStore.connect(server.url, { schema: 'Robert"; DROP' })).rejects.toThrow(
        'PostgreSQL schema name "Robert"; DROP" must be lower-case letters',
      );
    });

    it('takes the schema from the URL', async () => {
      const schema = server.freshSchema();
      const store = await PostgresEventStore.connect(`${server.url}?schema=${schema}`);
      try {
        expect(store.schema).toBe(schema);
        await store.appendToStream('s', [record()]);
        const same = await open(schema);
        expect(await same.streamRevision('s')).toBe(0n);
        await same.close();
      } finally {
        await store.close();
      }
    });
  });
});
