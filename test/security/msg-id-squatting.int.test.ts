// Attack 4 of the trust model: JetStream's duplicate window is one for the whole events stream, so
// store A publishes, on its own subject, under the message ids store B's next batches would use.
// B's batches carry the hash of their last event in their id, which A cannot know: they arrive at
// once and exactly once, without waiting for a stall to send them again.
import { jetstream } from '@nats-io/jetstream';
import { afterEach, describe, expect, it } from 'vitest';
import { subjects } from '../../contracts/index.js';
import { purchase, sequencesOf, startBackbone, type Backbone } from '../../testkit/backbone.js';

let backbone: Backbone | undefined;
afterEach(async () => {
  await backbone?.close();
  backbone = undefined;
});

describe('Nats-Msg-Id squatting by another store', () => {
  it("store A's squatted message ids do not make store B's batches duplicates", async () => {
    const b = (backbone = await startBackbone(['A', 'B']));
    await b.startIngest();
    const js = jetstream(b.nc);
    // Every id B's first batches could have under the old scheme, and the same with any suffix A can guess.
    for (let last = 1; last <= 20; last++) {
      for (const id of [`B:1-${last}`, `B:1-${last}:${'0'.repeat(32)}`, `B:1-${last}:r1`]) {
        const ack = await js.publish(subjects.events('A'), new Uint8Array([1]), { msgID: id });
        expect(ack.duplicate).toBe(false);
      }
    }
    // A stall timer far beyond the test: a batch dropped as a duplicate would not be sent again in time.
    const edge = await b.startEdge('B', { replication: { stallMs: 120_000 } });
    await edge.log.append(Array.from({ length: 20 }, (_, i) => purchase(i)));
    const confirmed = edge.replicator.whenConfirmed(20);
    await expect(
      Promise.race([confirmed.then(() => 'confirmed'), new Promise((r) => setTimeout(() => r('timed out'), 15_000))]),
    ).resolves.toBe('confirmed');
    expect(sequencesOf(await b.storedEnvelopes('B'))).toEqual({ count: 20, inOrder: true, unique: 20 });
  });
});
