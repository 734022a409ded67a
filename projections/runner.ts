import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { EventStore, StoredRecord, Subscription } from '../eventstore/index.js';
import type { Projection } from './projection.js';
import { prepared } from './statements.js';
import { acquireFileLock, type FileLock } from '../infra/index.js';
import { decodeRecord, type HostEvent } from '../eventstore/index.js';

export interface ProjectionLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ProjectionRunnerOptions {
  /** The read-model SQLite file (readmodels.db); checkpoints live in it too. */
  file: string;
  store: EventStore;
  projections: readonly Projection[];
  batchSize?: number;
  logger?: ProjectionLogger;
}

export interface RebuildProgress {
  /** Events replayed so far. */
  events: number;
  /** Position of the last replayed event. */
  position: bigint;
  /** Position of the last event when the rebuild started. */
  headPosition: bigint;
}

export interface RunnerStatus {
  running: boolean;
  /** Position every projection has applied, or undefined if none has applied anything. */
  checkpoint: bigint | undefined;
  /** Why the runner stopped by itself. */
  error?: string;
}

const CHECKPOINTS = `
CREATE TABLE IF NOT EXISTS projection_checkpoints (
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  position INTEGER
);`;

const DEFAULT_BATCH_SIZE = 1000;
const silent: ProjectionLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Keeps read models up to date with the host event store: one catch-up subscription from the
 * lowest checkpoint; each batch is applied to every projection and the checkpoints move in the
 * same SQLite transaction, so a crash between batches neither repeats nor skips an event.
 */
export class ProjectionRunner {
  readonly db: Database.Database;
  private subscription: Subscription | undefined;
  private lastError: string | undefined;
  private readonly waiters = new Set<{ position: bigint; resolve: () => void }>();
  private readonly warnedTypes = new Set<string>();
  private readonly store: EventStore;
  private readonly projections: readonly Projection[];
  private readonly batchSize: number;
  private readonly logger: ProjectionLogger;

  private constructor(
    options: ProjectionRunnerOptions,
    db: Database.Database,
    private readonly lock: FileLock,
  ) {
    this.db = db;
    this.store = options.store;
    this.projections = options.projections;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.logger = options.logger ?? silent;
    const names = new Set<string>();
    for (const projection of this.projections) {
      if (names.has(projection.name)) throw new Error(`two projections are named "${projection.name}"`);
      names.add(projection.name);
    }
  }

  /**
   * Opens the read-model file, creating each projection's tables; a projection whose version
   * changed starts from zero. One runner per file at a time (a lock file beside it), so that a
   * rebuild never races a running head office.
   */
  static open(options: ProjectionRunnerOptions): ProjectionRunner {
    mkdirSync(dirname(options.file), { recursive: true });
    const lock = acquireFileLock(`${options.file}.lock`, `read models ${options.file}`);
    let db: Database.Database | undefined;
    try {
      db = new Database(options.file);
      db.pragma('journal_mode = WAL');
      // Read models can always be replayed from the event store, and WAL keeps each batch and its
      // checkpoint atomic: losing the last batches in a power cut only means replaying them.
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.exec(CHECKPOINTS);
    } catch (error) {
      db?.close();
      lock.release();
      throw new Error(`cannot open read models ${options.file}: ${(error as Error).message}`);
    }
    try {
      const runner = new ProjectionRunner(options, db, lock);
      runner.prepareSchemas();
      return runner;
    } catch (error) {
      db.close();
      lock.release();
      throw error;
    }
  }

  private prepareSchemas(): void {
    const stored = this.db.prepare('SELECT version FROM projection_checkpoints WHERE name = ?');
    this.db.transaction(() => {
      for (const projection of this.projections) {
        const row = stored.get(projection.name) as { version: number } | undefined;
        if (row && row.version !== projection.version) {
          this.logger.info(`projection ${projection.name}: version ${row.version} → ${projection.version}, rebuilding it from the start`);
          this.reset(projection);
        } else {
          this.db.exec(projection.schema);
          if (!row)
            this.db
              .prepare('INSERT INTO projection_checkpoints (name, version, position) VALUES (?, ?, NULL)')
              .run(projection.name, projection.version);
        }
      }
    })();
  }

  /** Drops a projection's tables, recreates them and clears its checkpoint (inside a transaction). */
  private reset(projection: Projection): void {
    for (const table of projection.tables) this.db.exec(`DROP TABLE IF EXISTS "${table}"`);
    this.db.exec(projection.schema);
    this.db
      .prepare(
        'INSERT INTO projection_checkpoints (name, version, position) VALUES (?, ?, NULL) ON CONFLICT (name) DO UPDATE SET version = excluded.version, position = NULL',
      )
      .run(projection.name, projection.version);
  }

  private checkpoints(): Map<string, bigint | undefined> {
    const rows = prepared(this.db, 'SELECT name, position FROM projection_checkpoints').safeIntegers(true).all() as Array<{
      name: string;
      position: bigint | null;
    }>;
    const byName = new Map(rows.map((row) => [row.name, row.position ?? undefined]));
    return new Map(this.projections.map((projection) => [projection.name, byName.get(projection.name)]));
  }

  /** The position every projection has applied, or undefined when one has applied nothing yet. */
  checkpoint(): bigint | undefined {
    let lowest: bigint | undefined;
    for (const [index, position] of [...this.checkpoints().values()].entries()) {
      if (position === undefined) return undefined;
      if (index === 0 || position < lowest!) lowest = position;
    }
    return lowest;
  }

  status(): RunnerStatus {
    return {
      running: this.subscription !== undefined,
      checkpoint: this.checkpoint(),
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }

  /** Applies one batch of stored records and moves the checkpoints, all in one transaction. */
  private applyBatch(records: StoredRecord[]): void {
    const events = records.map((record) => this.decode(record));
    const last = records[records.length - 1];
    if (!last) return;
    const move = prepared(this.db, 'UPDATE projection_checkpoints SET position = ? WHERE name = ?');
    this.db.transaction(() => {
      // Read inside the transaction: a projection already past part of this batch skips that part.
      for (const [name, checkpoint] of this.checkpoints()) {
        const projection = this.projections.find((p) => p.name === name)!;
        if (checkpoint !== undefined && checkpoint >= last.position) continue;
        for (const event of events) {
          if (event && (checkpoint === undefined || event.position > checkpoint)) projection.apply(this.db, event);
        }
        move.run(last.position, name);
      }
    })();
    for (const waiter of this.waiters) {
      if (waiter.position <= last.position) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  private decode(record: StoredRecord): HostEvent | undefined {
    const event = decodeRecord(record);
    if (!event && !this.warnedTypes.has(record.type)) {
      this.warnedTypes.add(record.type);
      this.logger.warn(`projections skip records of unknown type "${record.type}" (first at position ${record.position})`);
    }
    return event;
  }

  /** Starts following the event store from the lowest checkpoint. */
  start(): void {
    if (this.subscription) return;
    this.lastError = undefined;
    const subscription = this.store.subscribeToAll({
      after: this.checkpoint(),
      batchSize: this.batchSize,
      handler: (records) => this.applyBatch(records),
    });
    this.subscription = subscription;
    subscription.done.then(
      () => {
        if (this.subscription === subscription) this.subscription = undefined;
      },
      (error: unknown) => {
        if (this.subscription === subscription) this.subscription = undefined;
        this.lastError = error instanceof Error ? error.message : String(error);
        this.logger.error(`projections stopped: ${this.lastError}`);
      },
    );
  }

  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.stop();
  }

  /** Resolves once every projection has applied the event at this position (e.g. one just appended). */
  waitForPosition(position: bigint): Promise<void> {
    const checkpoint = this.checkpoint();
    if (checkpoint !== undefined && checkpoint >= position) return Promise.resolve();
    return new Promise((resolve) => this.waiters.add({ position, resolve }));
  }

  /**
   * Drops every read model and replays the whole event store into it. Run it with no other
   * process applying to the same file; the runner itself pauses while it runs.
   */
  async rebuild(onProgress?: (progress: RebuildProgress) => void): Promise<{ events: number }> {
    const wasRunning = this.subscription !== undefined;
    await this.stop();
    this.db.transaction(() => {
      for (const projection of this.projections) this.reset(projection);
    })();
    const headPosition = (await this.store.headPosition()) ?? 0n;
    let events = 0;
    let after: bigint | undefined;
    for (;;) {
      const records = await this.store.readAll({ after, maxCount: this.batchSize });
      if (records.length === 0) break;
      this.applyBatch(records);
      events += records.length;
      after = records[records.length - 1]!.position;
      onProgress?.({ events, position: after, headPosition });
    }
    if (wasRunning) this.start();
    return { events };
  }

  async close(): Promise<void> {
    await this.stop();
    if (!this.db.open) return;
    this.db.close();
    this.lock.release();
  }
}
