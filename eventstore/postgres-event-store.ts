// The host event store on PostgreSQL (node-postgres): for a head office whose events live on a
// database server that more than one head-office process can reach.
import { createHash } from 'node:crypto';
import type pgTypes from 'pg';
import type { Logger } from '../infra/index.js';
import { AppendSignal, startCatchUpSubscription } from './catch-up-subscription.js';
import { DuplicateEventError, WrongExpectedRevisionError, type EventStore } from './event-store.js';
import type * as port from './event-store.js';
import { withoutPassword } from './server-url.js';

export interface PostgresEventStoreOptions {
  /** Schema that holds the events table, created if missing; default: the URL's `schema` parameter, else `cardsys`. */
  schema?: string;
  /** Longest wait of a caught-up subscription between reads, for appends no notification told it of. */
  pollMs?: number;
  /** Told of trouble the store rides out: a lost listening connection, a subscription's read that failed and is retried. */
  logger?: Pick<Logger, 'warn'>;
}

const DEFAULT_POSTGRES_SCHEMA = 'cardsys';
const DEFAULT_POLL_MS = 1000;
/**
 * An append is a few statements sent back to back. A process stopped in the middle of one (paused,
 * cut off) would hold the append lock, and so stop every other process's appends, until it came
 * back: the server ends such a session after this long, rolling the append back.
 */
const IDLE_IN_APPEND_MS = 2000;
/** How long a lost LISTEN connection waits before connecting again (the poll covers the gap). */
const LISTEN_RETRY_MS = 2000;
const UNIQUE_VIOLATION = '23505';
const EVENT_ID_CONSTRAINT = 'events_stream_event_id_key';
/** Lower case, so that the quoted name is the name PostgreSQL folds unquoted ones to; short enough for the channel name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,55}$/;

interface EventRow {
  position: string;
  stream_id: string;
  revision: string;
  event_id: string;
  type: string;
  data: Buffer;
}

const COLUMNS = 'position, stream_id, revision, event_id, type, data';

const toRecord = (row: EventRow): port.StoredRecord => ({
  id: row.event_id,
  type: row.type,
  data: new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength),
  streamId: row.stream_id,
  revision: BigInt(row.revision),
  position: BigInt(row.position),
});

/** Where a head office's PostgreSQL data lives: the server (the URL without `schema`) and the schema. */
export interface PostgresTarget {
  connectionString: string;
  schema: string;
}

/** The URL's `schema` parameter (else `schema`, else `cardsys`), checked, and the URL without it for node-postgres. */
export function postgresTarget(url: string, schema?: string): PostgresTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`bad PostgreSQL URL "${withoutPassword(url)}": expected postgres://user[:password]@host[:port]/database[?schema=name]`);
  }
  const chosen = schema ?? parsed.searchParams.get('schema') ?? DEFAULT_POSTGRES_SCHEMA;
  if (!SCHEMA_NAME.test(chosen)) {
    throw new Error(`PostgreSQL schema name "${chosen}" must be lower-case letters, digits and _ (at most 56), not starting with a digit`);
  }
  parsed.searchParams.delete('schema');
  return { connectionString: parsed.toString(), schema: chosen };
}

/**
 * Events in one table in global order, ids unique within their stream. Every append takes one
 * transaction-level advisory lock (one per schema) before it reads the stream's revision and
 * inserts, so appends from every process are serialised: positions come from the identity
 * sequence inside the lock, hence in commit order (the lock is let go only once the commit is
 * visible), and a catch-up subscriber that has read up to position p never later sees a commit
 * below p. The xid / pg_snapshot_xmin technique would let appends run side by side, at the price
 * of a subtler read that holds back behind every open transaction; head office's appends are
 * short and few at a time (one ingest, one writer), and SQLite serialises them the same way, so
 * the lock costs little and keeps the read plain.
 * The lock also makes the expected-revision check and the insert one atomic step.
 * Subscriptions wake on LISTEN/NOTIFY (sent by the appending transaction, delivered on commit)
 * and poll as a fallback for notifications lost while the listening connection is down.
 */
/** The client library, loaded by the first connect: a process on another store does not load it. */
let pg: typeof pgTypes;

export class PostgresEventStore implements EventStore {
  private readonly appended = new AppendSignal();
  private readonly subscriptions = new Set<port.Subscription>();
  private listener: pgTypes.Client | undefined;
  private listenRetry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Settles once the transaction called last holds the append lock (or gave up): the next one waits for it. */
  private lockTurn: Promise<void> = Promise.resolve();
  private readonly table: string;
  private readonly channel: string;

  private constructor(
    private readonly pool: pgTypes.Pool,
    private readonly connectionString: string,
    readonly schema: string,
    private readonly lockKey: string,
    private readonly pollMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
    readonly url: string,
  ) {
    this.table = `"${schema}".events`;
    this.channel = `${schema}_events`;
  }

  /** Connects and creates the schema and table if missing; the URL may name the schema (`?schema=name`). */
  static async connect(url: string, options: PostgresEventStoreOptions = {}): Promise<PostgresEventStore> {
    pg ??= (await import('pg')).default;
    const { connectionString, schema } = postgresTarget(url, options.schema);
    const logger = options.logger ?? console;
    const pool = new pg.Pool({
      connectionString,
      max: 4,
      application_name: 'cardsys-host',
      idle_in_transaction_session_timeout: IDLE_IN_APPEND_MS,
    });
    pool.on('error', (error) => logger.warn(`PostgreSQL event store: an idle connection failed: ${error.message}`));
    const lockKey = BigInt.asIntN(64, createHash('sha256').update(`cardsys events ${schema}`).digest().readBigUInt64BE()).toString();
    const store = new PostgresEventStore(
      pool,
      connectionString,
      schema,
      lockKey,
      options.pollMs ?? DEFAULT_POLL_MS,
      logger,
      withoutPassword(url),
    );
    try {
      await store.createSchema();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot open the PostgreSQL event store at ${store.url} (schema ${schema}): ${(error as Error).message}`);
    }
    return store;
  }

  /** Under the append lock, so that two processes starting at once do not race to create it. */
  private async createSchema(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.table} (
          position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          stream_id text NOT NULL,
          revision bigint NOT NULL,
          event_id text NOT NULL,
          type text NOT NULL,
          data bytea NOT NULL,
          CONSTRAINT events_stream_revision_key UNIQUE (stream_id, revision),
          CONSTRAINT ${EVENT_ID_CONSTRAINT} UNIQUE (stream_id, event_id)
        )`);
    });
  }

  /**
   * Runs `work` in a transaction that holds the schema's append lock. This process's transactions ask
   * for the lock in the order they were called, so appends made side by side take their positions in
   * the order asked (connections would otherwise reach the lock in any order).
   */
  private async transaction<T>(work: (client: pgTypes.PoolClient) => Promise<T>): Promise<T> {
    const turn = this.lockTurn;
    let passTurn!: () => void;
    this.lockTurn = new Promise<void>((resolve) => {
      passTurn = resolve;
    });
    let client: pgTypes.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      void turn.then(passTurn);
      throw error;
    }
    try {
      await client.query('BEGIN');
      await turn;
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [this.lockKey]);
      passTurn();
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      void turn.then(passTurn);
      client.release();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`the PostgreSQL event store at ${this.url} (schema ${this.schema}) is closed`);
  }

  private async lastRevision(client: pgTypes.ClientBase | pgTypes.Pool, streamId: string): Promise<bigint | undefined> {
    const { rows } = await client.query<{ revision: string | null }>({
      name: `${this.schema}-last-revision`,
      text: `SELECT max(revision) AS revision FROM ${this.table} WHERE stream_id = $1`,
      values: [streamId],
    });
    return rows[0]!.revision === null ? undefined : BigInt(rows[0]!.revision);
  }

  async appendToStream(streamId: string, records: port.NewRecord[], expected: port.ExpectedRevision = 'any'): Promise<port.AppendResult> {
    this.assertOpen();
    if (records.length === 0) throw new Error(`append to stream ${streamId}: no events given`);
    const ids = new Set<string>();
    for (const record of records) {
      if (ids.has(record.id)) throw new DuplicateEventError(streamId, record.id);
      ids.add(record.id);
    }
    let result: port.AppendResult;
    try {
      result = await this.transaction(async (client) => {
        const actual = await this.lastRevision(client, streamId);
        const matches = expected === 'any' || (expected === 'no_stream' ? actual === undefined : actual === expected);
        if (!matches) throw new WrongExpectedRevisionError(streamId, expected, actual);
        // One statement for the whole append; the notification reaches listeners when it commits.
        const { rows } = await client.query<{ last: string }>({
          name: `${this.schema}-append`,
          text: `
            WITH appended AS (
              INSERT INTO ${this.table} (stream_id, revision, event_id, type, data)
              SELECT $1, $2::bigint + r.ord, r.id, r.type, r.data
              FROM unnest($3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY AS r (id, type, data, ord)
              ORDER BY r.ord
              RETURNING position
            )
            SELECT (SELECT max(position) FROM appended) AS last, pg_notify($6, '')`,
          values: [streamId, actual ?? -1n, records.map((r) => r.id), records.map((r) => r.type), records.map((r) => r.data), this.channel],
        });
        return {
          nextExpectedRevision: (actual ?? -1n) + BigInt(records.length),
          lastPosition: BigInt(rows[0]!.last),
        };
      });
    } catch (error) {
      const failure = error as { code?: string; constraint?: string };
      if (failure.code === UNIQUE_VIOLATION && failure.constraint === EVENT_ID_CONSTRAINT) {
        throw new DuplicateEventError(streamId, await this.storedIdAmong(streamId, [...ids]));
      }
      throw error;
    }
    this.appended.notify();
    return result;
  }

  /** Which of the ids the stream already holds (for the message of a refused append). */
  private async storedIdAmong(streamId: string, ids: string[]): Promise<string> {
    const { rows } = await this.pool.query<{ event_id: string }>(
      `SELECT event_id FROM ${this.table} WHERE stream_id = $1 AND event_id = ANY($2::text[]) LIMIT 1`,
      [streamId, ids],
    );
    return rows[0]?.event_id ?? ids.join(', ');
  }

  async readStream(streamId: string, options: port.ReadStreamOptions = {}): Promise<port.StoredRecord[]> {
    this.assertOpen();
    const { rows } = await this.pool.query<EventRow>({
      name: `${this.schema}-read-stream`,
      text: `SELECT ${COLUMNS} FROM ${this.table} WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
      values: [streamId, options.fromRevision ?? 0n, options.maxCount ?? null],
    });
    return rows.map(toRecord);
  }

  async streamRevision(streamId: string): Promise<bigint | undefined> {
    this.assertOpen();
    return this.lastRevision(this.pool, streamId);
  }

  async readAll(options: port.ReadAllOptions = {}): Promise<port.StoredRecord[]> {
    this.assertOpen();
    const { rows } = await this.pool.query<EventRow>({
      name: `${this.schema}-read-all`,
      text: `SELECT ${COLUMNS} FROM ${this.table} WHERE position > $1 ORDER BY position LIMIT $2`,
      values: [options.after ?? 0n, options.maxCount ?? null],
    });
    return rows.map(toRecord);
  }

  async headPosition(): Promise<bigint | undefined> {
    this.assertOpen();
    const { rows } = await this.pool.query<{ position: string | null }>(`SELECT max(position) AS position FROM ${this.table}`);
    return rows[0]!.position === null ? undefined : BigInt(rows[0]!.position);
  }

  subscribeToAll(options: port.SubscribeOptions): port.Subscription {
    this.assertOpen();
    this.listen();
    // A read that fails (the server restarting, a dropped connection) is retried at the next
    // wake-up rather than ending the subscription; the trouble is told once, and its end.
    let failing = false;
    const subscription = startCatchUpSubscription({
      ...options,
      read: async (after, maxCount) => {
        if (this.closed) return undefined;
        try {
          const records = await this.readAll({ after, maxCount });
          if (failing) this.logger.warn(`PostgreSQL event store: subscription reads again after position ${after ?? 0n}`);
          failing = false;
          return records;
        } catch (error) {
          if (this.closed) return undefined;
          if (!failing)
            this.logger.warn(
              `PostgreSQL event store: subscription cannot read (retrying every ${this.pollMs} ms): ${(error as Error).message}`,
            );
          failing = true;
          return [];
        }
      },
      appends: this.appended,
      pollMs: this.pollMs,
    });
    this.subscriptions.add(subscription);
    void subscription.done.catch(() => undefined).finally(() => this.subscriptions.delete(subscription));
    return subscription;
  }

  /** One connection per store object LISTENs for other processes' appends, reconnecting when lost. */
  private listen(): void {
    if (this.listener || this.closed) return;
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'cardsys-host-listen',
    });
    this.listener = client;
    const lost = (error?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn(
        `PostgreSQL event store: listening connection lost (${error?.message ?? 'closed'}); polling every ${this.pollMs} ms until it is back`,
      );
      this.listenRetry = setTimeout(() => this.listen(), LISTEN_RETRY_MS);
      this.listenRetry.unref();
    };
    client.on('notification', () => this.appended.notify());
    client.on('error', lost);
    client.on('end', () => lost());
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.channel}"`))
      // Appends made while nobody listened were not announced: have the subscriptions look.
      .then(() => this.appended.notify(), lost);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    clearTimeout(this.listenRetry);
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
