import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLog, LogCorruptError, type LogEntry } from '../../edge/log/index.js';
import { GENESIS_HASH, hashEnvelope } from '../../contracts/index.js';
import { capturingLogger, purchase } from '../../testkit/backbone.js';
import { equalBytes } from '../../card/index.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-edge-log-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => join(root, `log-${++n}`);

function expectValidChain(entries: LogEntry[]): void {
  let previous = GENESIS_HASH;
  for (const [index, entry] of entries.entries()) {
    expect(entry.seq).toBe(index + 1);
    expect(entry.envelope.storeSeq).toBe(index + 1);
    expect(equalBytes(entry.envelope.prevHash, previous)).toBe(true);
    previous = hashEnvelope(entry.bytes);
  }
}

const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.log'))
    .sort();

describe('edge event log', () => {
  it('numbers concurrent appends without gaps, rolls segments over and reopens where it was', async () => {
    const dir = freshDir();
    const log = await EventLog.open({ dir, storeId: 's1', segmentBytes: 8 * 1024 });
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append([purchase(i), purchase(i + 1)])));
    expect(results.flat().map((entry) => entry.seq)).toEqual(Array.from({ length: 600 }, (_, i) => i + 1));
    for (let i = 0; i < 20; i++) await log.append([purchase(i)]);
    expect(segmentsOf(dir).length).toBeGreaterThan(1);
    const headHash = log.headHash;
    await log.close();

    const again = await EventLog.open({ dir, storeId: 's1', segmentBytes: 8 * 1024 });
    expect(again.headSeq).toBe(620);
    expect(equalBytes(again.headHash, headHash)).toBe(true);
    expect(again.droppedTailBytes).toBe(0);
    expectValidChain(again.read(1, 1000));
    expect(again.read(598, 5).map((entry) => entry.seq)).toEqual([598, 599, 600, 601, 602]);
    const bounded = again.read(1, 1000, 1000);
    expect(bounded.length).toBeGreaterThan(1);
    expect(bounded.reduce((sum, entry) => sum + entry.bytes.length, 0)).toBeLessThanOrEqual(1000);
    await again.close();
  });

  it.each([
    ['half a frame', (file: string) => appendFileSync(file, readFileSync(file).subarray(0, 30))],
    ['garbage', (file: string) => appendFileSync(file, Buffer.from('this is not a frame at all, just noise'))],
  ])('drops a torn tail (%s) on open, says so, and continues the sequence', async (_, tear) => {
    const dir = freshDir();
    const log = await EventLog.open({ dir, storeId: 's1' });
    await log.append(Array.from({ length: 10 }, (_, i) => purchase(i)));
    await log.close();
    const file = join(dir, segmentsOf(dir).at(-1)!);
    const goodSize = statSync(file).size;
    tear(file);
    const torn = statSync(file).size - goodSize;

    const { lines, logger } = capturingLogger();
    const again = await EventLog.open({ dir, storeId: 's1', logger });
    expect(again.headSeq).toBe(10);
    expect(again.droppedTailBytes).toBe(torn);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`dropped torn tail of ${torn} bytes at segment ${segmentsOf(dir).at(-1)} offset ${goodSize}`);
    expect(statSync(file).size).toBe(goodSize);
    const [next] = await again.append([purchase(11)]);
    expect(next!.seq).toBe(11);
    expectValidChain(again.read(1, 100));
    await again.close();
  });

  it('drops a frame whose bytes were damaged in place (checksum mismatch)', async () => {
    const dir = freshDir();
    const log = await EventLog.open({ dir, storeId: 's1' });
    await log.append(Array.from({ length: 5 }, (_, i) => purchase(i)));
    await log.close();
    const file = join(dir, segmentsOf(dir).at(-1)!);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(file, bytes);
    const { lines, logger } = capturingLogger();
    const again = await EventLog.open({ dir, storeId: 's1', logger });
    expect(again.headSeq).toBe(4);
    expect(lines[0]).toMatch(/dropped torn tail of \d+ bytes .* \(checksum mismatch\)/);
    await again.close();
  });

  it("refuses to open when a sealed segment is damaged, or when the log is another store's", async () => {
    const dir = freshDir();
    const log = await EventLog.open({ dir, storeId: 's1', segmentBytes: 2 * 1024 });
    for (let i = 0; i < 60; i++) await log.append([purchase(i)]);
    await log.close();
    await expect(EventLog.open({ dir, storeId: 's2' })).rejects.toThrow(/holds events of store "s1", not "s2"/);
    const first = join(dir, segmentsOf(dir)[0]!);
    truncateSync(first, statSync(first).size - 5);
    await expect(EventLog.open({ dir, storeId: 's1' })).rejects.toBeInstanceOf(LogCorruptError);
  });

  it('leaves a torn tail in place when opened read-only', async () => {
    const dir = freshDir();
    const log = await EventLog.open({ dir, storeId: 's1' });
    await log.append([purchase(1), purchase(2)]);
    await log.close();
    const file = join(dir, segmentsOf(dir).at(-1)!);
    appendFileSync(file, Buffer.alloc(7, 1));
    const size = statSync(file).size;
    const { lines, logger } = capturingLogger();
    const view = await EventLog.open({ dir, storeId: 's1', logger, readOnly: true });
    expect(view.headSeq).toBe(2);
    expect(lines[0]).toContain('left in place (read-only)');
    await expect(view.append([purchase(3)])).rejects.toThrow(/read-only/);
    expect(statSync(file).size).toBe(size);
    await view.close();
  });

  it('keeps every append it reported committed when the appending process is killed with SIGKILL', async () => {
    const dir = freshDir();
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures', 'append-forever.ts'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let lastReported = 0;
    await new Promise<void>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`appender exited early with code ${code}`)));
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        const seqs = [...chunk.matchAll(/committed (\d+)/g)].map((match) => Number(match[1]));
        lastReported = Math.max(lastReported, ...seqs);
        if (lastReported >= 3000) resolve();
      });
    });
    child.removeAllListeners('exit');
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    const log = await EventLog.open({ dir, storeId: 's1', logger: capturingLogger().logger });
    expect(log.headSeq).toBeGreaterThanOrEqual(lastReported);
    expectValidChain(log.read(1, log.headSeq));
    const [next] = await log.append([purchase(0)]);
    expect(next!.seq).toBe(log.headSeq);
    await log.close();
  });
});
