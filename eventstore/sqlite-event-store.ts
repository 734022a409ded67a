import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { DuplicateEventError, WrongExpectedRevisionError, type EventStore } from './event-store.js';
import type * as port from './event-store.js';
import { AppendSignal, startCatchUpSubscription } from './catch-up-subscription.js';

/** The events table; event ids are unique within their stream only. */
const eventsTable = (name: string) => `
CREATE TABLE IF NOT EXISTS ${name} (
  position INTEGER PRIMARY KEY,
  stream_id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (stream_id, revision),
  UNIQUE (stream_id, event_id)
);`;

/** Whether the events table still has the unique index on event_id alone that files made before per-stream ids have. */
function hasGlobalEventIdIndex(db: Database.Database): boolean {
  const indexes = db.pragma('index_list(events)') as Array<{ name: string; unique: number }>;
  return indexes.some((index) => {
    if (!index.unique) return false;
    const columns = db.pragma(`index_info(${JSON.stringify(index.name)})`) as Array<{ name: string }>;
    return columns.length === 1 && columns[0]!.name === 'event_id';
  });
}

/**
 * Makes event ids unique per stream in a file made when they were unique across the store. The
 * index came with the column, so the table is copied into the new shape (positions kept) in one
 * transaction: a crash leaves the old table whole, and the next open migrates again.
 */
function migrateToPerStreamIds(db: Database.Database): void {
  db.transaction(() => {
    db.exec(eventsTable('events_per_stream_ids'));
    db.exec(
      'INSERT INTO events_per_stream_ids (position, stream_id, revision, event_id, type, data) SELECT position, stream_id, revision, event_id, type, data FROM events',
    );
    db.exec('DROP TABLE events');
    db.exec('ALTER TABLE events_per_stream_ids RENAME TO events');
  }).immediate();
}

interface EventRow {
  position: bigint;
  stream_id: string;
  revision: bigint;
  event_id: string;
  type: string;
  data: Buffer;
}

interface PendingAppend {
  streamId: string;
  records: port.NewRecord[];
  expected: port.ExpectedRevision;
  resolve: (result: port.AppendResult) => void;
  reject: (error: unknown) => void;
}

/** How often a subscription looks for events appended by other processes to the same file. */
const FOREIGN_APPEND_POLL_MS = 100;

const toRecord = (row: EventRow): port.StoredRecord => ({
  id: row.event_id,
  type: row.type,
  data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
  streamId: row.stream_id,
  revision: row.revision,
  position: row.position,
});

/** The embedded host event store: one SQLite file, every event in one table in global order. */
export class SqliteEventStore implements EventStore {
  private readonly appended = new AppendSignal();
  private readonly subscriptions = new Set<port.Subscription>();
  private closed = false;

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
  ) {}

  static open(file: string): SqliteEventStore {
    mkdirSync(dirname(file), { recursive: true });
    let db: Database.Database;
    try {
      db = new Database(file);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('busy_timeout = 5000');
      db.exec(eventsTable('events'));
      if (hasGlobalEventIdIndex(db)) migrateToPerStreamIds(db);
    } catch (error) {
      throw new Error(`cannot open event store ${file}: ${(error as Error).message}`);
    }
    return new SqliteEventStore(db, file);
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once, reading 64-bit integers as bigint. */
  private statement(sql: string): Database.Statement {
    this.assertOpen();
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      if (stmt.reader) stmt.safeIntegers(true);
      this.statements.set(sql, stmt);
    }
    return stmt;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`event store ${this.file} is closed`);
  }

  private lastRevision(streamId: string): bigint | undefined {
    const row = this.statement('SELECT MAX(revision) AS revision FROM events WHERE stream_id = ?').get(streamId) as {
      revision: bigint | null;
    };
    return row.revision ?? undefined;
  }

  /**
   * Appends asked for in the same turn of the event loop (the ingest's stores of one round, side by
   * side) commit in one transaction, each in a savepoint of its own: one sync of the file for them
   * all, where one each made the ingest's cost grow with the number of stores in a round; a refused
   * append leaves the others as they are.
   */
  appendToStream(streamId: string, records: port.NewRecord[], expected: port.ExpectedRevision = 'any'): Promise<port.AppendResult> {
    if (records.length === 0) return Promise.reject(new Error(`append to stream ${streamId}: no events given`));
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ streamId, records, expected, resolve, reject });
      if (this.pendingAppends.length === 1) queueMicrotask(() => this.commitPendingAppends());
    });
  }

  private pendingAppends: PendingAppend[] = [];

  private commitPendingAppends(): void {
    const appends = this.pendingAppends.splice(0);
    const outcomes: Array<{ result: port.AppendResult } | { error: unknown }> = [];
    try {
      this.db
        .transaction(() => {
          for (const append of appends) {
            try {
              outcomes.push({ result: this.appendInSavepoint(append) });
            } catch (error) {
              outcomes.push({ error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const append of appends) append.reject(error);
      return;
    }
    this.appended.notify();
    appends.forEach((append, index) => {
      const outcome = outcomes[index]!;
      if ('error' in outcome) append.reject(outcome.error);
      else append.resolve(outcome.result);
    });
  }

  /** One append, inside the group's transaction: a nested transaction is a savepoint, rolled back alone when it throws. */
  private appendInSavepoint({ streamId, records, expected }: PendingAppend): port.AppendResult {
    const insert = this.statement('INSERT INTO events (stream_id, revision, event_id, type, data) VALUES (?, ?, ?, ?, ?)');
    return this.db.transaction((): port.AppendResult => {
      const actual = this.lastRevision(streamId);
      const matches = expected === 'any' || (expected === 'no_stream' ? actual === undefined : actual === expected);
      if (!matches) throw new WrongExpectedRevisionError(streamId, expected, actual);
      const first = actual === undefined ? 0 : Number(actual) + 1;
      let lastInsertRowid: number | bigint = 0;
      for (let i = 0; i < records.length; i++) {
        const record = records[i]!;
        try {
          lastInsertRowid = insert.run(streamId, first + i, record.id, record.type, record.data).lastInsertRowid;
        } catch (error) {
          // The UNIQUE index on (stream_id, event_id) is the permanent dedupe; the append rolls back whole.
          if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /event_id/.test((error as Error).message)) {
            throw new DuplicateEventError(streamId, record.id);
          }
          throw error;
        }
      }
      return { nextExpectedRevision: BigInt(first + records.length - 1), lastPosition: BigInt(lastInsertRowid) };
    })();
  }

  async readStream(streamId: string, options: port.ReadStreamOptions = {}): Promise<port.StoredRecord[]> {
    const rows = this.statement('SELECT * FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?').all(
      streamId,
      options.fromRevision ?? 0n,
      options.maxCount ?? -1,
    ) as EventRow[];
    return rows.map(toRecord);
  }

  async streamRevision(streamId: string): Promise<bigint | undefined> {
    return this.lastRevision(streamId);
  }

  async readAll(options: port.ReadAllOptions = {}): Promise<port.StoredRecord[]> {
    return this.readAllNow(options.after, options.maxCount);
  }

  private readAllNow(after: bigint | undefined, maxCount: number | undefined): port.StoredRecord[] {
    const rows = this.statement('SELECT * FROM events WHERE position > ? ORDER BY position LIMIT ?').all(
      after ?? 0n,
      maxCount ?? -1,
    ) as EventRow[];
    return rows.map(toRecord);
  }

  async headPosition(): Promise<bigint | undefined> {
    const row = this.statement('SELECT MAX(position) AS position FROM events').get() as { position: bigint | null };
    return row.position ?? undefined;
  }

  subscribeToAll(options: port.SubscribeOptions): port.Subscription {
    this.assertOpen();
    const subscription = startCatchUpSubscription({
      ...options,
      read: async (after, maxCount) => (this.closed ? undefined : this.readAllNow(after, maxCount)),
      // Appends through this object wake the subscription at once; other processes' appends are
      // found by polling the file.
      appends: this.appended,
      pollMs: FOREIGN_APPEND_POLL_MS,
    });
    this.subscriptions.add(subscription);
    void subscription.done.catch(() => undefined).finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    this.closed = true;
    this.db.close();
  }
}
