import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../eventstore/index.js';
import { eventStoreContract } from './event-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'cardsys-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

eventStoreContract({ name: 'SQLite', open: async () => SqliteEventStore.open(join(dir, `events-${++n}.db`)), uniqueIdsAcrossStreams: true });

describe('SqliteEventStore, beyond the contract', () => {
  it('keeps events across close and reopen', async () => {
    const file = join(dir, 'reopen.db');
    const first = SqliteEventStore.open(file);
    await first.appendToStream('s', [{ id: 'e1', type: 'T', data: Uint8Array.of(7) }], 'no_stream');
    await first.close();
    const again = SqliteEventStore.open(file);
    expect((await again.readStream('s')).map((r) => r.id)).toEqual(['e1']);
    await expect(again.appendToStream('s', [{ id: 'e1', type: 'T', data: Uint8Array.of(7) }])).rejects.toMatchObject({ name: 'DuplicateEventError' });
    await again.close();
  });

  it('delivers to a subscription events appended by another process to the same file', async () => {
    const file = join(dir, 'shared.db');
    const store = SqliteEventStore.open(file);
    const seen: string[] = [];
    let wake: () => void = () => undefined;
    const subscription = store.subscribeToAll({
      handler: (batch) => {
        seen.push(...batch.map((r) => r.id));
        wake();
      },
    });
    const script = `
      import { SqliteEventStore } from ${JSON.stringify(join(process.cwd(), 'eventstore/index.ts'))};
      const store = SqliteEventStore.open(${JSON.stringify(file)});
      await store.appendToStream('other', [{ id: 'from-child', type: 'T', data: Uint8Array.of(1) }]);
      await store.close();`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(child.stderr).toBe('');
    while (!seen.includes('from-child')) await new Promise<void>((resolve) => (wake = resolve));
    await subscription.stop();
    expect(seen).toEqual(['from-child']);
    await store.close();
  });

  it('names the file when it cannot be opened', () => {
    const notADatabase = join(dir, 'not-a-database.db');
    writeFileSync(notADatabase, 'plain text, not SQLite '.repeat(100));
    expect(() => SqliteEventStore.open(notADatabase)).toThrow(`cannot open event store ${notADatabase}: file is not a database`);
  });
});
