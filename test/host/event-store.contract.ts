import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  chainHeadRecord,
  DuplicateEventError,
  WrongExpectedRevisionError,
  type EventStore,
  type NewRecord,
  type StoredRecord,
} from '../../eventstore/index.js';

export interface EventStoreUnderTest {
  name: string;
  open(): Promise<EventStore>;
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

    it('appends asked for side by side each stand alone: a refused one leaves the others, in the order asked', async () => {
      await store.appendToStream(stream('b'), records(1), 'no_stream');
      const taken = record();
      await store.appendToStream(stream('d'), [taken], 'no_stream');
      const [a, b, c, d] = await Promise.allSettled([
        store.appendToStream(stream('a'), records(2), 'no_stream'),
        store.appendToStream(stream('b'), records(1), 'no_stream'),
        store.appendToStream(stream('c'), records(3), 'no_stream'),
        store.appendToStream(stream('d'), [record(), { ...taken }], 0n),
      ]);
      expect(a).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 1n } });
      expect(b).toMatchObject({ status: 'rejected', reason: { name: 'WrongExpectedRevisionError' } });
      expect(c).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 2n } });
      expect(d).toMatchObject({ status: 'rejected', reason: { name: 'DuplicateEventError' } });
      expect(await store.streamRevision(stream('b'))).toBe(0n);
      expect(await store.streamRevision(stream('d'))).toBe(0n);
      const [first, third] = [a, c].map((settled) => (settled as PromiseFulfilledResult<{ lastPosition: bigint }>).value.lastPosition);
      expect(first! < third!).toBe(true);
      expect((await store.readStream(stream('c'))).map((r) => r.revision)).toEqual([0n, 1n, 2n]);
    });

    it('refuses an event id repeated within one append, and appends none of it', async () => {
      const repeated = record();
      await expect(store.appendToStream(stream('a'), [repeated, record(), repeated])).rejects.toBeInstanceOf(DuplicateEventError);
      expect(await store.readStream(stream('a'))).toEqual([]);
    });

    it('refuses an event id the stream already holds, and appends none of that append', async () => {
      const first = record();
      await store.appendToStream(stream('a'), [first], 'no_stream');
      const again = store.appendToStream(stream('a'), [record(), { ...first }], 0n);
      await expect(again).rejects.toMatchObject({ name: 'DuplicateEventError', streamId: stream('a'), eventId: first.id });
      expect((await store.readStream(stream('a'))).map((r) => r.id)).toEqual([first.id]);
    });

    it('stores the same event id in two streams: ids are unique within their stream only', async () => {
      const start = await store.headPosition();
      const shared = record();
      await store.appendToStream(stream('a'), [shared], 'no_stream');
      await store.appendToStream(stream('b'), [record(), { ...shared, type: 'Other' }], 'no_stream');
      expect((await store.readStream(stream('b'))).map((r) => `${r.id}:${r.type}`)).toEqual([expect.any(String), `${shared.id}:Other`]);
      const both = (await store.readAll({ after: start })).filter((r) => r.id === shared.id);
      expect(both.map((r) => r.streamId.slice(prefix.length + 1))).toEqual(['a', 'b']);
    });

    it("a stream's next record ids put into another stream first do not block that stream's appends", async () => {
      // Head office's chain-head record ids follow from (origin, sequence), so anyone can compute
      // the next ones; a store that puts them into its own events must not stop head office's writer.
      const hq = stream('hq');
      const headRecordId = (seq: number) =>
        chainHeadRecord({ storeId: hq, storeSeq: seq, hash: new Uint8Array(32), keyId: 'k', signature: new Uint8Array(64) }, seq).id;
      await store.appendToStream(hq, [record(), { ...record(), id: headRecordId(1) }], 'no_stream');
      const squatted = [2, 3, 4].map((seq) => ({ ...record(), id: headRecordId(seq) }));
      await store.appendToStream(stream('store-attacker'), squatted, 'no_stream');
      const next = await store.appendToStream(hq, [record(), { ...record(), id: headRecordId(2) }], 1n);
      expect(next.nextExpectedRevision).toBe(3n);
      expect((await store.readStream(hq)).map((r) => r.id).slice(-1)).toEqual([headRecordId(2)]);
      expect((await store.readStream(stream('store-attacker'))).map((r) => r.id)).toEqual(squatted.map((r) => r.id));
    });

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
