import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuplicateEventError, WrongExpectedRevisionError, type EventStore, type NewRecord, type StoredRecord } from '../../eventstore/index.js';

export interface EventStoreUnderTest {
  name: string;
  open(): Promise<EventStore>;
  /** Whether the adapter refuses an event id already stored in another stream. */
  uniqueIdsAcrossStreams: boolean;
}

const record = (type = 'Tested', data = [1, 2, 3]): NewRecord => ({ id: randomUUID(), type, data: Uint8Array.from(data) });
const records = (n: number) => Array.from({ length: n }, (_, i) => record('Tested', [i % 256, (i >> 8) % 256]));

/** The behaviour every host event store adapter must have. */
export function eventStoreContract(subject: EventStoreUnderTest): void {
  describe(`EventStore contract: ${subject.name}`, () => {
    let store: EventStore;
    // Stream names are unique per test so that a shared server (EventStoreDB) needs no cleanup.
    let prefix: string;
    const stream = (name: string) => `${prefix}-${name}`;

    beforeEach(async () => {
      store = await subject.open();
      prefix = `t${randomUUID().slice(0, 8)}`;
    });
    afterEach(async () => {
      await store.close();
    });

    it('appends to a new stream and reads it back in order with revisions', async () => {
      const written = records(3);
      const result = await store.appendToStream(stream('a'), written, 'no_stream');
      expect(result.nextExpectedRevision).toBe(2n);
      const read = await store.readStream(stream('a'));
      expect(read.map((r) => r.id)).toEqual(written.map((r) => r.id));
      expect(read.map((r) => r.revision)).toEqual([0n, 1n, 2n]);
      expect(read[1]!.data).toEqual(written[1]!.data);
      expect(read[2]!.position).toBe(result.lastPosition);
      expect(read.every((r) => r.streamId === stream('a') && r.type === 'Tested')).toBe(true);
      expect(await store.streamRevision(stream('a'))).toBe(2n);
    });

    it('reads an unknown stream as empty with no revision', async () => {
      expect(await store.readStream(stream('missing'))).toEqual([]);
      expect(await store.streamRevision(stream('missing'))).toBeUndefined();
    });

    it('reads a stream from a revision with a maximum count', async () => {
      await store.appendToStream(stream('a'), records(5), 'no_stream');
      const read = await store.readStream(stream('a'), { fromRevision: 1n, maxCount: 2 });
      expect(read.map((r) => r.revision)).toEqual([1n, 2n]);
    });

    it('refuses an append whose expected revision does not match, and appends nothing', async () => {
      await store.appendToStream(stream('a'), records(2), 'no_stream');
      const refused = store.appendToStream(stream('a'), records(1), 'no_stream');
      await expect(refused).rejects.toBeInstanceOf(WrongExpectedRevisionError);
      await expect(store.appendToStream(stream('a'), records(1), 0n)).rejects.toMatchObject({ streamId: stream('a'), actual: 1n });
      await expect(store.appendToStream(stream('b'), records(1), 3n)).rejects.toMatchObject({ actual: undefined });
      expect(await store.streamRevision(stream('a'))).toBe(1n);
      expect(await store.streamRevision(stream('b'))).toBeUndefined();
      const next = await store.appendToStream(stream('a'), records(1), 1n);
      expect(next.nextExpectedRevision).toBe(2n);
      await store.appendToStream(stream('a'), records(1), 'any');
      expect(await store.streamRevision(stream('a'))).toBe(3n);
    });

    it('refuses an event id repeated within one append, and appends none of it', async () => {
      const repeated = record();
      await expect(store.appendToStream(stream('a'), [repeated, record(), repeated])).rejects.toBeInstanceOf(DuplicateEventError);
      expect(await store.readStream(stream('a'))).toEqual([]);
    });

    it.skipIf(!subject.uniqueIdsAcrossStreams)(
      `refuses an event id already stored in another stream${subject.uniqueIdsAcrossStreams ? '' : ' (skipped: this server keeps ids unique per stream only)'}`,
      async () => {
        const first = record();
        await store.appendToStream(stream('a'), [first]);
        await expect(store.appendToStream(stream('b'), [record(), { ...first }])).rejects.toMatchObject({ name: 'DuplicateEventError', eventId: first.id });
        expect(await store.readStream(stream('b'))).toEqual([]);
      },
    );

    it('reads all streams in one increasing global order, after a checkpoint', async () => {
      const start = await store.headPosition();
      await store.appendToStream(stream('a'), records(2));
      await store.appendToStream(stream('b'), records(2));
      await store.appendToStream(stream('a'), records(1));
      const all = (await store.readAll({ after: start })).filter((r) => r.streamId.startsWith(prefix));
      expect(all.map((r) => `${r.streamId.slice(prefix.length + 1)}:${r.revision}`)).toEqual(['a:0', 'a:1', 'b:0', 'b:1', 'a:2']);
      const positions = all.map((r) => r.position);
      expect([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(positions);
      expect(new Set(positions).size).toBe(positions.length);
      expect(await store.headPosition()).toBe(positions[4]);
      const afterSecond = await store.readAll({ after: positions[1], maxCount: 2 });
      expect(afterSecond.map((r) => r.position)).toEqual([positions[2], positions[3]]);
    });

    it('subscribes from a checkpoint: catches up, then delivers live appends in order', async () => {
      const start = await store.headPosition();
      await store.appendToStream(stream('a'), records(3));
      const received: StoredRecord[] = [];
      let wake: () => void = () => undefined;
      const subscription = store.subscribeToAll({
        after: start,
        batchSize: 2,
        handler: (batch) => {
          expect(batch.length).toBeLessThanOrEqual(2);
          received.push(...batch.filter((r) => r.streamId.startsWith(prefix)));
          wake();
        },
      });
      const waitFor = async (count: number) => {
        while (received.length < count) await new Promise<void>((resolve) => (wake = resolve));
      };
      await waitFor(3);
      await store.appendToStream(stream('b'), records(2));
      await waitFor(5);
      await subscription.stop();
      expect(received.map((r) => `${r.streamId.slice(prefix.length + 1)}:${r.revision}`)).toEqual(['a:0', 'a:1', 'a:2', 'b:0', 'b:1']);
      // Nothing more arrives after stop().
      await store.appendToStream(stream('c'), records(1));
      await subscription.done;
      expect(received).toHaveLength(5);
    });

    it('ends a subscription whose handler throws, with that error', async () => {
      const start = await store.headPosition();
      await store.appendToStream(stream('a'), records(1));
      const subscription = store.subscribeToAll({
        after: start,
        handler: () => {
          throw new Error('projection failed');
        },
      });
      await expect(subscription.done).rejects.toThrow('projection failed');
    });
  });
}
