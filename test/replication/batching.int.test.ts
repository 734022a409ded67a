import { afterEach, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeBatch, EVENTS_STREAM, subjects } from '../../contracts/index.js';
import { startBackbone, purchase, sequencesOf, type Backbone } from '../../testkit/backbone.js';

let backbone: Backbone | undefined;
afterEach(async () => {
  await backbone?.close();
  backbone = undefined;
});

/** The [first, last] sequence ranges of the batches a store published, in stream order. */
async function publishedRanges(b: Backbone): Promise<Array<[number, number]>> {
  const jsm = await jetstreamManager(b.nc);
  const { state } = await jsm.streams.info(EVENTS_STREAM);
  const ranges: Array<[number, number]> = [];
  for (let seq = state.first_seq; seq <= state.last_seq && state.messages > 0; seq++) {
    const batch = decodeBatch((await jsm.streams.getMessage(EVENTS_STREAM, { seq }))!.data);
    ranges.push([Number(batch.head!.storeSeq) - batch.events.length + 1, Number(batch.head!.storeSeq)]);
  }
  return ranges;
}

describe('replicator batching', () => {
  it('holds a partial batch while one is unconfirmed, then sends everything that piled up as one batch', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const edge = await b.startEdge('s1');
    await edge.nats;
    for (let i = 1; i <= 10; i++) await edge.log.append([purchase(i)]);
    // Head office is not running: the first event went out alone, the nine after it wait.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await publishedRanges(b)).toEqual([[1, 1]]);

    await b.startIngest();
    await edge.replicator.whenConfirmed(10);
    expect(await publishedRanges(b)).toEqual([
      [1, 1],
      [2, 10],
    ]);
    expect(sequencesOf(await b.storedEnvelopes('s1'))).toEqual({ count: 10, inOrder: true, unique: 10 });
  });

  it('still sends full batches back to back while others are unconfirmed', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const edge = await b.startEdge('s1', { replication: { maxBatchEvents: 5 } });
    await edge.nats;
    await edge.log.append([purchase(0)]);
    await edge.log.append(Array.from({ length: 12 }, (_, i) => purchase(i + 1)));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // After the lone first event: two full batches go out at once, the partial rest (3 events) waits.
    expect(await publishedRanges(b)).toEqual([
      [1, 1],
      [2, 6],
      [7, 11],
    ]);
    await b.startIngest();
    await edge.replicator.whenConfirmed(13);
    expect((await publishedRanges(b)).at(-1)).toEqual([12, 13]);
  });

  it('at a stall sends the same batch again under the same msgID, waiting longer each time, and head office commits it once', async () => {
    const b = (backbone = await startBackbone(['s1']));
    // Every publish of the store's batches, as the broker sees them: when, and under which msgID.
    const sent: Array<{ at: number; msgId: string | undefined }> = [];
    b.nc.subscribe(subjects.events('s1'), {
      callback: (_, msg) => void sent.push({ at: Date.now(), msgId: msg.headers?.get('Nats-Msg-Id') }),
    });
    await b.nc.flush();
    const edge = await b.startEdge('s1', { replication: { stallMs: 200, heartbeatMs: 0 } });
    await edge.nats;
    await edge.log.append([purchase(1)]);
    // Head office is not running: the batch stalls, and goes again after 200, 400, 800 ms.
    await expect.poll(() => sent.length, { timeout: 10_000, interval: 50 }).toBeGreaterThanOrEqual(4);
    expect(new Set(sent.map(({ msgId }) => msgId)).size).toBe(1);
    expect(sent[0]!.msgId).toMatch(/^s1:1-1:[0-9a-f]{32}$/);
    const gaps = sent.slice(1, 4).map(({ at }, i) => at - sent[i]!.at);
    expect(gaps[2]!).toBeGreaterThan(gaps[0]!);
    // JetStream kept one copy; head office commits the batch once.
    expect(await publishedRanges(b)).toEqual([[1, 1]]);
    await b.startIngest();
    await edge.replicator.whenConfirmed(1);
    expect(sequencesOf(await b.storedEnvelopes('s1'))).toEqual({ count: 1, inOrder: true, unique: 1 });
  });

  it('asks head office where it stands only when no StoreAck came for a heartbeat: not while its events are being confirmed', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const asked: number[] = [];
    b.nc.subscribe(subjects.sync('s1'), { callback: () => void asked.push(Date.now()) });
    await b.nc.flush();
    await b.startIngest();
    const edge = await b.startEdge('s1', { replication: { heartbeatMs: 200 } });
    await edge.nats;
    // Busy: an event every 50 ms for 1.5 s, each confirmed by a StoreAck.
    const busyFrom = Date.now();
    for (let i = 1; i <= 30; i++) {
      await edge.log.append([purchase(i)]);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await edge.replicator.whenConfirmed(30);
    const busyTo = Date.now();
    // Quiet: the heartbeat goes on.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const whileBusy = asked.filter((at) => at > busyFrom + 250 && at <= busyTo).length;
    const whileQuiet = asked.filter((at) => at > busyTo + 250).length;
    expect(whileBusy).toBe(0);
    expect(whileQuiet).toBeGreaterThanOrEqual(3);
  });
});
