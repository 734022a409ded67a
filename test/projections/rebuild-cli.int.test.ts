import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { progressLine, startProgress } from '../../cli/progress.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { ProjectionRunner, ReadModelQueries, projections } from '../../projections/index.js';
import { EnvelopeChain, appendChainBatch } from '../support/envelope-chain.js';
import { cardIssued, pursePaid, storeRegistered, userRegistered, cardPrimaryIssued } from '../support/host-events.js';

const dir = mkdtempSync(join(tmpdir(), 'cardsys-rebuild-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('cardsys projections rebuild', () => {
  it('replays the host event store into fresh read models, with progress lines on a non-terminal stderr', async () => {
    const hqDir = join(dir, 'data', 'hq');
    const store = SqliteEventStore.open(join(hqDir, 'events.db'));
    const hq = new EnvelopeChain('hq');
    const shop = new EnvelopeChain('S');
    await appendChainBatch(store, hq, [storeRegistered('S', 'Shop'), userRegistered('u1', 'S'), cardPrimaryIssued('c1', 'u1')]);
    await appendChainBatch(store, shop, [cardIssued('c1', 'u1', 'S')]);
    const payments = 20_000;
    for (let done = 0; done < payments; done += 500) {
      await appendChainBatch(
        store,
        shop,
        Array.from({ length: 500 }, () => pursePaid('c1', 'S', 1, 0)),
      );
    }
    const head = (await store.headPosition())!;
    await store.close();

    const run = spawnSync(process.execPath, ['bin/cardsys.js', 'projections', 'rebuild', '--data', join(dir, 'data')], {
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(
      new RegExp(
        `^rebuild ${Number(head).toLocaleString('en-US')} events replayed into ${projections.map((p) => p.name).join(', ')} in \\d+\\.\\ds$`,
      ),
    );
    expect(run.stderr).not.toContain('\r');

    const reopened = SqliteEventStore.open(join(hqDir, 'events.db'));
    const runner = ProjectionRunner.open({ file: join(hqDir, 'readmodels.db'), store: reopened, projections });
    expect(runner.checkpoint()).toBe(head);
    const queries = new ReadModelQueries(runner.db);
    expect(queries.card('c1')!.usage.payCount).toBe(payments);
    expect(queries.storeSync('S')!.lastSeqReceived).toBe(payments + 1);

    // While a runner (a running head office) holds the read models, a rebuild is refused.
    const refused = spawnSync(process.execPath, ['bin/cardsys.js', 'projections', 'rebuild', '--data', join(dir, 'data')], {
      encoding: 'utf8',
    });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(`read models ${join(hqDir, 'readmodels.db')} is in use by process ${process.pid}`);
    expect(() => ProjectionRunner.open({ file: join(hqDir, 'readmodels.db'), store: reopened, projections })).toThrow(
      'already open in this process',
    );
    await runner.close();
    await reopened.close();
  });
});

describe('progress bar', () => {
  const sink = (isTTY: boolean) => {
    const written: string[] = [];
    return { written, stream: { isTTY, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream };
  };

  it('shows count, rate, bar and ETA', () => {
    expect(progressLine({ unit: 'events', count: 5_000, fraction: 0.25, elapsedMs: 2_000 })).toBe(
      '[######..................] 25% 5,000 events 2,500/s ETA 6s',
    );
    expect(progressLine({ unit: 'events', count: 10, elapsedMs: 0 })).toBe('10 events 0/s');
  });

  it('redraws one line on a terminal', () => {
    const { written, stream } = sink(true);
    let now = 0;
    const progress = startProgress({ unit: 'events', stream, now: () => now });
    now = 1_000;
    progress.update(100, 0.5);
    progress.update(200, 1);
    progress.finish();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line sequence is what is tested
    expect(written[0]).toMatch(/^\r\[#{12}\.{12}\] 50% 100 events 100\/s ETA 1s\x1b\[K$/);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's erase-line sequence is what is tested
    expect(written.at(-1)).toMatch(/^\r.* 100% 200 events 200\/s\x1b\[K\n$/);
  });

  it('prints plain lines at most once per interval elsewhere', () => {
    const { written, stream } = sink(false);
    let now = 0;
    const progress = startProgress({ unit: 'rows', stream, now: () => now, plainIntervalMs: 1_000 });
    for (let i = 1; i <= 10; i++) {
      now = i * 300;
      progress.update(i);
    }
    progress.finish('done');
    expect(written).toEqual(['1 rows 3/s\n', '5 rows 3/s\n', '9 rows 3/s\n', 'done\n']);
  });
});
