import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { SqliteEventStore } from '../../eventstore/index.js';
import { eventStoreContract } from './event-store.contract.js';

const dir = mkdtempSync(join(tmpdir(), 'cardsys-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

eventStoreContract({ name: 'SQLite', open: async () => SqliteEventStore.open(join(dir, `events-${++n}.db`)) });

describe('SqliteEventStore, beyond the contract', () => {
  it('keeps events across close and reopen', async () => {
    const file = join(dir, 'reopen.db');
    const first = SqliteEventStore.open(file);
    await first.appendToStream('s', [{ id: 'e1', type: 'T', data: Uint8Array.of(7) }], 'no_stream');
    await first.close();
    const again = SqliteEventStore.open(file);
    expect((await again.readStream('s')).map((r) => r.id)).toEqual(['e1']);
    await expect(again.appendToStream('s', [{ id: 'e1', type: 'T', data: Uint8Array.of(7) }])).rejects.toMatchObject({
      name: 'DuplicateEventError',
    });
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

  it('migrates a file made when event ids were unique across streams, keeping every event and position', async () => {
    const file = join(dir, 'before-per-stream-ids.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE events (
      position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, revision INTEGER NOT NULL, event_id TEXT NOT NULL UNIQUE,
      type TEXT NOT NULL, data BLOB NOT NULL, UNIQUE (stream_id, revision));`);
    const insert = old.prepare('INSERT INTO events (position, stream_id, revision, event_id, type, data) VALUES (?, ?, ?, ?, ?, ?)');
    insert.run(3, 'hq', 0, 'e1', 'T', Buffer.of(1));
    insert.run(7, 'store-s1', 0, 'e2', 'T', Buffer.of(2));
    old.close();

    const store = SqliteEventStore.open(file);
    expect((await store.readAll()).map((r) => `${r.position}:${r.streamId}:${r.id}`)).toEqual(['3:hq:e1', '7:store-s1:e2']);
    const appended = await store.appendToStream('store-s1', [{ id: 'e1', type: 'T', data: Uint8Array.of(3) }], 0n);
    expect(appended.lastPosition).toBe(8n);
    await expect(store.appendToStream('hq', [{ id: 'e1', type: 'T', data: Uint8Array.of(4) }], 0n)).rejects.toMatchObject({
      name: 'DuplicateEventError',
      streamId: 'hq',
    });
    await store.close();
    const migrated = new Database(file, { readonly: true });
    const table = migrated.prepare("SELECT sql FROM sqlite_master WHERE name = 'events'").get() as { sql: string };
    migrated.close();
    expect(table.sql).toContain('UNIQUE (stream_id, event_id)');
    expect(table.sql).not.toMatch(/event_id TEXT NOT NULL UNIQUE/);
  });

  it('names the file when it cannot be opened', () => {
    const notADatabase = join(dir, 'not-a-database.db');
    writeFileSync(notADatabase, 'plain text, not SQLite '.repeat(100));
    expect(() => SqliteEventStore.open(notADatabase)).toThrow(`cannot open event store ${notADatabase}: file is not a database`);
  });
});
