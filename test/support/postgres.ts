// The PostgreSQL server the tests run against: PG_URL, else the one `make deps` installs and starts
// (infra/install-system-deps.sh). Each test file works in a schema of its own, dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Set to 1 to let the PostgreSQL tests skip (with the reason printed) where no server answers. */
export const SKIP_ENV = 'CARDSYS_SKIP_POSTGRES';

export interface AvailablePostgres {
  url: string;
  freshSchema(): string;
  dropSchemas(): Promise<void>;
}

export type PostgresForTests = AvailablePostgres | { unavailable: string; skip: boolean };

/**
 * Describes `suite` on the server; where none answers, a test that fails naming why (or, with
 * SKIP_ENV=1, a skipped one, the reason printed).
 */
export function describeOnPostgres(name: string, postgres: PostgresForTests, suite: (server: AvailablePostgres) => void): void {
  if (!('unavailable' in postgres)) {
    describe(name, () => suite(postgres));
  } else if (postgres.skip) {
    console.warn(`${name}: skipped (${SKIP_ENV}=1): ${postgres.unavailable}`);
    describe.skip(`${name} (skipped: ${postgres.unavailable})`, () => it('needs a PostgreSQL server', () => undefined));
  } else {
    describe(name, () =>
      it('needs a PostgreSQL server', () => {
        throw new Error(postgres.unavailable);
      }),
    );
  }
}

async function run(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Whether PostgreSQL answers at PG_URL, and schema names for this file that are dropped at the end. */
export async function postgresForTests(): Promise<PostgresForTests> {
  try {
    await run(PG_URL, 'SELECT 1');
  } catch (error) {
    const unavailable =
      `no PostgreSQL answers at ${PG_URL} (${(error as Error).message}): run \`make deps\` (infra/install-system-deps.sh installs and ` +
      `starts it), set PG_URL, or set ${SKIP_ENV}=1 to skip`;
    return { unavailable, skip: process.env[SKIP_ENV] === '1' };
  }
  const schemas: string[] = [];
  return {
    url: PG_URL,
    freshSchema() {
      const schema = `cardsys_test_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return schema;
    },
    async dropSchemas() {
      for (const schema of schemas.splice(0)) await run(PG_URL, `DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    },
  };
}

/** The server's connections that LISTEN for the schema's appends; `terminate` ends them from the server's side. */
export async function listeningConnections(url: string, schema: string, terminate = false): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT ${terminate ? 'pg_terminate_backend(pid), ' : ''}pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query = $1`,
      [`LISTEN "${schema}_events"`],
    );
    return rows.length;
  } finally {
    await client.end();
  }
}
