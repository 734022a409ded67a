import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBackbone, purchase, sequencesOf, type Backbone } from '../../testkit/backbone.js';

const fixtures = join(import.meta.dirname, 'fixtures');
let backbone: Backbone | undefined;
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await backbone?.close();
  backbone = undefined;
});

/** Spawns a fixture under tsx and resolves when its stdout shows a line matching `until`. */
function spawnUntil(script: string, args: string[], until: (line: string) => boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(fixtures, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`${script} exited (${code ?? signal}) before the awaited line`)));
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      if (lines.some(until)) {
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}

const exitOf = (child: ChildProcess) =>
  new Promise<number | null>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve(child.exitCode) : child.once('exit', (code) => resolve(code)),
  );

async function killHard(child: ChildProcess): Promise<void> {
  child.kill('SIGKILL');
  await exitOf(child);
}

describe('crashes during replication', () => {
  it('an edge killed with SIGKILL mid-replication resumes: nothing lost, nothing duplicated', async () => {
    const b = (backbone = await startBackbone(['s1']));
    await b.startIngest();
    const { file } = b.keys.get('s1')!;
    const args = [b.nats.url, join(b.dir, 'stores', 's1'), 's1', file, '8000'];
    let committedBeforeKill = 0;
    const first = await spawnUntil('edge-child.ts', args, (line) => {
      const committed = /^committed (\d+)$/.exec(line);
      if (committed) committedBeforeKill = Number(committed[1]);
      const confirmed = /^confirmed (\d+)$/.exec(line);
      return confirmed !== null && Number(confirmed[1]) >= 1000;
    });
    await killHard(first);
    expect(committedBeforeKill).toBeLessThan(8000);
    expect((await b.storedEnvelopes('s1')).length).toBeLessThan(8000);

    const second = await spawnUntil('edge-child.ts', args, (line) => line === 'done 8000');
    expect(await exitOf(second)).toBe(0);
    expect(sequencesOf(await b.storedEnvelopes('s1'))).toEqual({ count: 8000, inOrder: true, unique: 8000 });
  });

  it('an ingest killed with SIGKILL mid-ingest is replaced: nothing lost, nothing duplicated', async () => {
    const b = (backbone = await startBackbone(['s1']));
    const edge = await b.startEdge('s1', { replication: { maxBatchEvents: 100, window: 32 } });
    for (let i = 0; i < 10_000; i += 1000) await edge.log.append(Array.from({ length: 1000 }, (_, k) => purchase(i + k)));

    // The ingest processes share the event store file with this test, as head office's processes would.
    const ingestArgs = [b.nats.url, b.eventStoreFile];
    const first = await spawnUntil('ingest-child.ts', ingestArgs, (line) => line === 'ready');
    const deadline = Date.now() + 20_000;
    while (((await b.store.streamRevision('store-s1')) ?? -1n) < 500n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    await killHard(first);
    const storedAtKill = (await b.storedEnvelopes('s1')).length;
    expect(storedAtKill).toBeGreaterThan(0);
    expect(storedAtKill).toBeLessThan(10_000);

    await spawnUntil('ingest-child.ts', ingestArgs, (line) => line === 'ready');
    await edge.replicator.whenConfirmed(10_000);
    expect(sequencesOf(await b.storedEnvelopes('s1'))).toEqual({ count: 10_000, inOrder: true, unique: 10_000 });
  });
});
