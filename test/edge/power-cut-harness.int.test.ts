// The power-cut simulation the edge's durability tests rely on, checked on SQLite itself: a commit
// made with synchronous=NORMAL in WAL mode is lost at a power cut, one made with synchronous=FULL
// survives it (the shim keeps only what an fsync covered).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { PowerCut } from '../support/edge-process.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-power-cut-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A process that commits one row per mode to `file`, then waits to be killed. */
const WRITER = `
const Database = require('better-sqlite3');
const db = new Database(process.argv[1]);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.prepare('INSERT INTO t VALUES (?)').run(process.argv[2]);
db.pragma('synchronous = FULL');
db.prepare('INSERT INTO t VALUES (?)').run(process.argv[3]);
db.pragma('synchronous = NORMAL');
db.prepare('INSERT INTO t VALUES (?)').run(process.argv[4]);
process.stdout.write('committed\\n');
setInterval(() => {}, 1000);
`;

describe('the power-cut harness', () => {
  it('loses the commits no fsync covered and keeps those that one did', async () => {
    const watched = join(root, 'store');
    const file = join(watched, 'edge.db');
    mkdirSync(watched, { recursive: true });
    const setup = new Database(file);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE t (k TEXT PRIMARY KEY)');
    setup.close();

    const power = new PowerCut(join(root, 'work'), watched);
    const child = spawn(process.execPath, ['-e', WRITER, file, 'normal-before', 'full', 'normal-after'], {
      cwd: process.cwd(),
      env: { ...process.env, ...power.env() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('committed') && resolve()));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;

    // A crash alone loses nothing: the kernel has every write.
    const crashed = new Database(file, { readonly: true });
    expect(crashed.prepare('SELECT k FROM t ORDER BY k').pluck().all()).toEqual(['full', 'normal-after', 'normal-before']);
    crashed.close();

    power.restore();
    const after = new Database(file);
    // The FULL commit synced the WAL, and with it the NORMAL commit before it; the one after is gone.
    expect(after.prepare('SELECT k FROM t ORDER BY k').pluck().all()).toEqual(['full', 'normal-before']);
    after.close();
  });
});
