// Head office's cost per event does not grow with the number of stores: the same events from 200
// simulated stores (each with its own provisioned credentials, in its own account on the hub) and
// from 2, against the real `cardsys host` in a process of its own, its CPU time read from /proc.
// `make bench` measures up to 5,000 stores; this keeps the small case in the suite.
import { describe, expect, it } from 'vitest';
import { measureScaling } from '../../bench/index.js';

describe('head office at 200 stores against 2', () => {
  it('commits every event of every store, at no more than twice the CPU per event', async () => {
    const { table, envelopes } = await measureScaling({ stores: [2, 200], events: 6000, idleMs: 1000 });
    const [two, many] = table;
    process.stderr.write(`scaling: ${JSON.stringify(table)}\n`);
    expect(envelopes.reduce((sum, store) => sum + store.entries.length, 0)).toBe(6000);
    for (const row of table) {
      expect(row.committedEventsPerSecond).toBeGreaterThan(0);
      expect(row.ingestCpuUsPerEvent).toBeGreaterThan(0);
    }
    expect(many!.ingestCpuUsPerEvent).toBeLessThanOrEqual(2 * two!.ingestCpuUsPerEvent);
  }, 240_000);
});
