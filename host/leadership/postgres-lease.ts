// The writer lease on PostgreSQL: a session-level advisory lock (one key per schema) held on a
// session of its own. The server lets go of the lock the moment that session ends: at once when the
// holder dies (its socket closes), and, for a holder that is alive but silent (paused, cut off),
// when the session's idle_session_timeout ends it. The holder pings well within that time, and
// gives the lease up itself when its pings go unanswered. A lease row records who holds it and
// the term, for the other instances to show and to name in their refusals.
//
// Why a lock rather than a lease row with an expiry: a dead holder frees it without waiting out a
// lease, no clock of either machine is involved, and the server, not a row, says who holds it. A
// paused holder that wakes after losing it may still try to append: its appends to `hq` are
// refused by expected revision, because the next holder's first act is to append to `hq`.
import { createHash } from 'node:crypto';
import pg from 'pg';
import { type PostgresTarget, postgresTarget, withoutPassword } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import type { HeldLease, LeaseHolder, WriterLease } from './lease.js';

export interface PostgresWriterLeaseOptions {
  /** How often the holder pings the server on the lease's session. */
  heartbeatMs?: number;
  /** Silence after which the server ends the holder's session and so frees the lease (idle_session_timeout). */
  timeoutMs?: number;
  logger?: Pick<Logger, 'warn'>;
}

const DEFAULT_HEARTBEAT_MS = 1000;
const DEFAULT_TIMEOUT_MS = 5000;

interface HolderRow {
  term: string;
  instance: string;
  api_url: string;
  since: Date;
}

/** A signed 64-bit advisory lock key from a name, and its halves as pg_locks shows them (classid, objid). */
function lockKey(name: string): {
  key: string;
  classid: number;
  objid: number;
} {
  const unsigned = createHash('sha256').update(name).digest().readBigUInt64BE();
  return {
    key: BigInt.asIntN(64, unsigned).toString(),
    classid: Number(unsigned >> 32n),
    objid: Number(unsigned & 0xffffffffn),
  };
}

export class PostgresWriterLease implements WriterLease {
  readonly shared = true;
  /** The session that tries for the lock and, once it has it, holds it. */
  private session: pg.Client | undefined;
  private held: { lose(reason: string): Promise<void> } | undefined;
  private readonly lock: ReturnType<typeof lockKey>;
  private readonly table: string;
  private closed = false;

  private constructor(
    private readonly target: PostgresTarget,
    /** For the lease row and the holder's look-ups: never the lock's session. */
    private readonly pool: pg.Pool,
    private readonly heartbeatMs: number,
    private readonly timeoutMs: number,
    private readonly logger: Pick<Logger, 'warn'>,
  ) {
    this.lock = lockKey(`cardsys writer ${target.schema}`);
    this.table = `"${target.schema}".writer_lease`;
  }

  /** The lease of the head office whose events are in the URL's schema (`?schema=name`, default cardsys). */
  static async connect(url: string, options: PostgresWriterLeaseOptions = {}): Promise<PostgresWriterLease> {
    const target = postgresTarget(url);
    const logger = options.logger ?? console;
    const pool = new pg.Pool({
      connectionString: target.connectionString,
      max: 1,
      application_name: 'cardsys-host-lease-row',
    });
    pool.on('error', (error) => logger.warn(`writer lease: an idle connection failed: ${error.message}`));
    const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (timeoutMs < 2 * heartbeatMs)
      throw new Error(`writer lease: timeout ${timeoutMs} ms must be at least two heartbeats (${heartbeatMs} ms each)`);
    const lease = new PostgresWriterLease(target, pool, heartbeatMs, timeoutMs, logger);
    try {
      await lease.createTable();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot set up the writer lease at ${withoutPassword(url)} (schema ${target.schema}): ${(error as Error).message}`);
    }
    return lease;
  }

  private async createTable(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // Two instances starting at once would race to create the table: one at a time.
      await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey(`cardsys writer table ${this.target.schema}`).key]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${this.target.schema}"`);
      await client.query(`
        CREATE TABLE IF NOT EXISTS ${this.table} (
          id smallint PRIMARY KEY CHECK (id = 1),
          term bigint NOT NULL,
          instance text NOT NULL,
          api_url text NOT NULL,
          pid integer NOT NULL,
          since timestamptz NOT NULL
        )`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async lockSession(): Promise<pg.Client> {
    if (this.session) return this.session;
    const client = new pg.Client({
      connectionString: this.target.connectionString,
      application_name: 'cardsys-host-lease',
    });
    const ended = (error?: Error) => {
      if (this.session === client) this.session = undefined;
      void this.held?.lose(error ? `the lease's PostgreSQL session failed: ${error.message}` : "the lease's PostgreSQL session ended");
    };
    client.on('error', ended);
    client.on('end', () => ended());
    await client.connect();
    // The server ends this session (freeing the lock) once the holder has been silent this long.
    await client.query(`SET idle_session_timeout = ${this.timeoutMs}`).catch(async (error: Error) => {
      await client.end().catch(() => undefined);
      throw new Error(`the writer lease needs PostgreSQL 14 or later (idle_session_timeout): ${error.message}`);
    });
    this.session = client;
    return client;
  }

  async tryAcquire(me: { instance: string; apiUrl: string }): Promise<HeldLease | undefined> {
    if (this.closed) throw new Error('writer lease: closed');
    if (this.held) throw new Error('writer lease: already held by this instance');
    const client = await this.lockSession();
    const { rows } = await client.query<{ won: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS won', [this.lock.key]);
    if (!rows[0]!.won) return undefined;
    try {
      const { rows: taken } = await client.query<HolderRow>(
        `INSERT INTO ${this.table} AS lease (id, term, instance, api_url, pid, since) VALUES (1, 1, $1, $2, pg_backend_pid(), now())
         ON CONFLICT (id) DO UPDATE SET term = lease.term + 1, instance = $1, api_url = $2, pid = pg_backend_pid(), since = now()
         RETURNING term, instance, api_url, since`,
        [me.instance, me.apiUrl],
      );
      return this.hold(client, holderOf(taken[0]!));
    } catch (error) {
      // Without its row the lease is not taken: ending the session lets go of the lock.
      await this.endSession(client);
      throw error;
    }
  }

  /** Pings on the lock's session; the lease is lost when a ping fails or stays unanswered too long. */
  private hold(client: pg.Client, holder: LeaseHolder): HeldLease {
    let resolveLost!: (reason: string) => void;
    const lost = new Promise<string>((resolve) => (resolveLost = resolve));
    let lastAnswer = Date.now();
    let pinging = false;
    const heartbeat = setInterval(() => {
      const silentMs = Date.now() - lastAnswer;
      // Stop acting before the server may hand the lease to another instance.
      if (silentMs > this.timeoutMs - this.heartbeatMs)
        return void lose(`PostgreSQL has not answered the lease's pings for ${silentMs} ms`);
      if (pinging) return;
      pinging = true;
      client.query('SELECT 1').then(
        () => {
          lastAnswer = Date.now();
          pinging = false;
        },
        (error: Error) => void lose(`the lease's ping failed: ${error.message}`),
      );
    }, this.heartbeatMs);
    heartbeat.unref();
    const lose = async (reason: string) => {
      if (this.held !== state) return;
      this.held = undefined;
      clearInterval(heartbeat);
      resolveLost(reason);
      await this.endSession(client);
    };
    const state = { lose };
    this.held = state;
    return { holder, lost, release: () => lose('given up') };
  }

  private async endSession(client: pg.Client): Promise<void> {
    if (this.session === client) this.session = undefined;
    await client.end().catch(() => undefined);
  }

  async holder(): Promise<LeaseHolder | undefined> {
    // The row counts only while its session still holds the lock.
    const { rows } = await this.pool.query<HolderRow>(
      `SELECT term, instance, api_url, since FROM ${this.table} AS lease
       WHERE id = 1 AND EXISTS (
         SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = lease.pid AND classid = $1 AND objid = $2 AND objsubid = 1)`,
      [this.lock.classid, this.lock.objid],
    );
    return rows[0] && holderOf(rows[0]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.held?.lose('closed');
    if (this.session) await this.endSession(this.session);
    await this.pool.end().catch((error: Error) => this.logger.warn(`writer lease: while closing: ${error.message}`));
  }
}

function holderOf(row: HolderRow): LeaseHolder {
  return {
    instance: row.instance,
    apiUrl: row.api_url,
    term: Number(row.term),
    since: row.since.toISOString(),
  };
}
