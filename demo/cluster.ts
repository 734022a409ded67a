// What `cardsys demo --cluster` adds to the day: the PostgreSQL schema both head-office instances
// share (made by the demo and marked so, dropped at the next run like the demo's folder; a schema
// the demo did not make is refused), the second instance's copy of head office's keys and store
// directory, and who leads: the hub node leading JetStream's events stream, and the head-office
// instance holding the writer lease.
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { EVENTS_STREAM } from '../contracts/index.js';
import { postgresTarget, withoutPassword } from '../eventstore/index.js';
import { headOfficeNatsOptions } from '../host/provisioning/index.js';
import { StepFailure } from './narrator.js';

/** Where `cardsys demo --cluster` keeps head office's events unless told otherwise (the machines' local PostgreSQL). */
export const DEMO_CLUSTER_EVENT_STORE = 'postgres://postgres@127.0.0.1:5432/test?schema=cardsys_demo';
/** The hub nodes of the demo's cluster. */
export const HUB_NODES = 3;
const SCHEMA_MARK = 'made by cardsys demo --cluster: the next demo run drops this schema';

/**
 * Makes the schema `url` names afresh: one an earlier demo made is dropped first; one it did not
 * make is refused (nothing of it touched).
 */
export async function prepareDemoSchema(url: string): Promise<string> {
  const { connectionString, schema } = postgresTarget(url);
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new StepFailure(
      `no PostgreSQL answers at ${withoutPassword(url)} (${(error as Error).message}): start one, or name another with --event-store`,
    );
  }
  try {
    const { rows } = await client.query<{ mark: string | null }>(
      "SELECT obj_description(oid, 'pg_namespace') AS mark FROM pg_namespace WHERE nspname = $1",
      [schema],
    );
    if (rows.length > 0) {
      if (rows[0]!.mark !== SCHEMA_MARK)
        throw new StepFailure(
          `PostgreSQL schema ${schema} holds tables the demo did not make; name another with --event-store ${withoutPassword(connectionString)}?schema=<name>`,
        );
      await client.query(`DROP SCHEMA "${schema}" CASCADE`);
    }
    await client.query(`CREATE SCHEMA "${schema}"`);
    await client.query(`COMMENT ON SCHEMA "${schema}" IS '${SCHEMA_MARK}'`);
    return schema;
  } finally {
    await client.end();
  }
}

/** A second head-office instance's folder: a copy of head office's keys, store directory and CA, as on another machine. */
export function secondOfficeData(dataDir: string, hqDir: string): string {
  const officeData = join(dataDir, 'office-2');
  for (const folder of ['keys', 'directory', 'tls']) cpSync(join(hqDir, folder), join(officeData, 'hq', folder), { recursive: true });
  return officeData;
}

/** The hub node leading the events stream, and the nodes holding its copies, as JetStream reports them. */
export async function eventsStreamPlacement(
  hqDir: string,
  hubUrl: string,
): Promise<{ leader: string; replicas: Array<{ name: string; current: boolean; offline: boolean }> }> {
  const nc = await connect({ servers: hubUrl.split(','), ...headOfficeNatsOptions(hqDir)('ingest') });
  try {
    const info = await (await jetstreamManager(nc)).streams.info(EVENTS_STREAM);
    if (!info.cluster?.leader) throw new StepFailure(`JetStream names no leader of stream ${EVENTS_STREAM}`);
    return {
      leader: info.cluster.leader,
      replicas: (info.cluster.replicas ?? []).map((peer) => ({ name: peer.name, current: peer.current, offline: peer.offline })),
    };
  } finally {
    await nc.close();
  }
}

/** What a head-office instance's /healthz says of its part: leader or follower, and the lease holder. */
export async function officeRole(apiUrl: string): Promise<{ role?: string; lease?: { holder: { apiUrl: string; term: number } | null } }> {
  try {
    return (await (await fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(2_000) })).json()) as never;
  } catch {
    return {};
  }
}
