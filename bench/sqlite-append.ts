// Host SQLite append beside a bare insert of the same rows: the host event store's appends (with
// its expected-revision check, its stream index and its event-id check) against the same rows
// inserted one by one into a table with nothing but its primary key, with the same journal, the same
// durability and the same rows per transaction. Runs alternate (host, bare, host, bare, …) in fresh
// files and the fastest of each counts, so that a busy moment on the machine cannot decide the ratio.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type NewRecord, SqliteEventStore } from '../eventstore/index.js';

/** The rows of one stream, in order. */
export interface StreamRows {
  streamId: string;
  records: NewRecord[];
}

export interface SqliteAppendFigures {
  rowsPerAppend: number;
  /** SqliteEventStore.appendToStream, one append per `rowsPerAppend` rows of a stream. */
  hostAppend: { rowsPerSecond: number; runsRowsPerSecond: number[] };
  /** The same rows and transactions into a table without secondary indexes. */
  bareInsert: { rowsPerSecond: number; runsRowsPerSecond: number[] };
}

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);

export async function benchSqliteAppend(options: {
  dir: string;
  streams: StreamRows[];
  rowsPerAppend: number;
  runs?: number;
  progress?: (message: string) => void;
}): Promise<SqliteAppendFigures> {
  const { dir, streams, rowsPerAppend } = options;
  mkdirSync(dir, { recursive: true });
  const runs = options.runs ?? 2;
  const progress = options.progress ?? (() => undefined);
  const rows = streams.reduce((sum, stream) => sum + stream.records.length, 0);
  const host: number[] = [];
  const bare: number[] = [];
  for (let run = 1; run <= runs; run++) {
    progress(`SQLite run ${run}: host event store appends of ${rowsPerAppend} rows`);
    host.push(perSecond(rows, await hostAppend(join(dir, `host-append-${run}.db`), streams, rowsPerAppend)));
    progress(`SQLite run ${run}: bare insert of the same rows`);
    bare.push(perSecond(rows, bareInsert(join(dir, `bare-insert-${run}.db`), streams, rowsPerAppend)));
  }
  return {
    rowsPerAppend,
    hostAppend: { rowsPerSecond: Math.max(...host), runsRowsPerSecond: host },
    bareInsert: { rowsPerSecond: Math.max(...bare), runsRowsPerSecond: bare },
  };
}

async function hostAppend(file: string, streams: StreamRows[], rowsPerAppend: number): Promise<number> {
  const store = SqliteEventStore.open(file);
  try {
    const started = performance.now();
    for (const { streamId, records } of streams) {
      for (let i = 0; i < records.length; i += rowsPerAppend) await store.appendToStream(streamId, records.slice(i, i + rowsPerAppend));
    }
    return performance.now() - started;
  } finally {
    await store.close();
  }
}

function bareInsert(file: string, streams: StreamRows[], rowsPerAppend: number): number {
  const db = new Database(file);
  try {
    // The host event store's own settings (eventstore/sqlite-event-store.ts).
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(
      'CREATE TABLE events (position INTEGER PRIMARY KEY, stream_id TEXT NOT NULL, revision INTEGER NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL, data BLOB NOT NULL)',
    );
    const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data) VALUES (?, ?, ?, ?, ?)');
    const started = performance.now();
    for (const { streamId, records } of streams) {
      for (let i = 0; i < records.length; i += rowsPerAppend) {
        db.transaction(() => {
          const end = Math.min(i + rowsPerAppend, records.length);
          for (let at = i; at < end; at++) insert.run(streamId, at, records[at]!.id, records[at]!.type, records[at]!.data);
        }).immediate();
      }
    }
    return performance.now() - started;
  } finally {
    db.close();
  }
}
