import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import pg from 'pg';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subjects } from '../../contracts/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { registerStore } from '../../host/hq-writer/index.js';
import { PostgresEventStore, startHost, type EventStoreChoice, type HostNode } from '../../host/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { EnvelopeChain } from '../support/envelope-chain.js';
import { cardIssued, purseLoaded, pursePaid } from '../support/host-events.js';
import { describeOnPostgres, postgresForTests } from '../support/postgres.js';
import { chainHeadRecord, CHAIN_HEAD_RECORD_TYPE } from '../../eventstore/index.js';
import { tokenFor } from '../../host/api/index.js';

// Head office on each event store it can run on, with a real nats-server: store events reach the
// read models, and no store can stop head office's own writer by squatting its record ids.

/** Describes head office on the event store: to be called inside a describe of its own. */
function headOfficeOn(
  eventStore: () => EventStoreChoice,
  extra?: (context: () => { host: HostNode; nats: NatsServer; dir: string }) => void,
) {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-host-stores-'));
  let nats: NatsServer;
  let host: HostNode;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    host = await startHost({
      dataDir: join(dir, 'hq'),
      natsUrl: nats.url,
      http: { host: '127.0.0.1', port: 0 },
      eventStore: eventStore(),
    });
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await host?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const getJson = async (path: string) => {
    const authorization = `Bearer ${await tokenFor(join(dir, 'hq'), 'auditor')}`;
    return (await (await fetch(`${host.url}${path}`, { headers: { authorization } })).json()) as Record<string, any>;
  };
  const lastSeqReceived = async (storeId: string) => (await getJson(`/v1/stores/${storeId}/sync`)).lastSeqReceived;

  it("ingests a store's batches into the event store and the read models", async () => {
    const storeKey = generateSigningKey();
    await registerStore(host.hqWriter, { storeId: 'S1', name: 'Shop 1', publicKey: storeKey.publicKey });
    const chain = new EnvelopeChain('S1');
    const batch = chain.batch(
      [cardIssued('c9', 'u9', 'S1'), purseLoaded('c9', 'S1', 10_000, 10_000), pursePaid('c9', 'S1', 2_500, 7_500)],
      storeKey,
    );
    await jetstream(nc).publish(subjects.events('S1'), batch.bytes, { msgID: 'S1:1-3' });
    await expect.poll(() => lastSeqReceived('S1'), { timeout: 20_000 }).toBe(3);
    const stored = await host.store.readStream('store-S1');
    expect(stored.map((r) => r.type)).toEqual(['CardIssued', 'PurseLoaded', 'PursePaid', CHAIN_HEAD_RECORD_TYPE]);
    await host.runner.waitForPosition((await host.store.headPosition())!);
    expect((await getJson('/v1/cards/c9')).usage).toMatchObject({ loadedTotal: 10_000, paidTotal: 2_500, lastBalance: 7_500, count: 2 });
  });

  it("a store that puts head office's next record ids into its events does not stop head office's writer", async () => {
    const storeKey = generateSigningKey();
    await registerStore(host.hqWriter, { storeId: 'S2', name: 'Shop 2', publicKey: storeKey.publicKey });
    // Head office's chain-head record ids follow from its sequence: the store computes the next ones.
    const hqHeadId = (storeSeq: number) =>
      chainHeadRecord({ storeId: 'hq', storeSeq, hash: new Uint8Array(32), keyId: 'k', signature: new Uint8Array(64) }, storeSeq).id;
    const squatted = Array.from({ length: 6 }, (_, i) => hqHeadId(host.hqWriter.headSeq + 1 + i));
    const hqEventId = (await host.store.readStream('hq')).find((r) => r.type !== CHAIN_HEAD_RECORD_TYPE)!.id;
    const ids = [...squatted, hqEventId];
    const chain = new EnvelopeChain('S2');
    const batch = chain.batch(
      ids.map((_, i) => pursePaid(`c${i}`, 'S2', 100, 0)),
      storeKey,
      { eventIds: ids },
    );
    await jetstream(nc).publish(subjects.events('S2'), batch.bytes, { msgID: `S2:1-${ids.length}` });
    await expect.poll(() => lastSeqReceived('S2'), { timeout: 20_000 }).toBe(ids.length);
    expect((await host.store.readStream('store-S2')).map((r) => r.id).slice(0, ids.length)).toEqual(ids);

    // Head office's next append closes with a chain-head record whose id the store already used.
    const registered = await registerStore(host.hqWriter, { storeId: 'S3', name: 'Shop 3', publicKey: generateSigningKey().publicKey });
    expect(registered.map((sealed) => sealed.envelope.eventType)).toEqual(['StoreRegistered', 'StoreKeyRegistered']);
    const hqTail = (await host.store.readStream('hq')).at(-1)!;
    expect(hqTail.type).toBe(CHAIN_HEAD_RECORD_TYPE);
    expect(squatted).toContain(hqTail.id);
    await expect
      .poll(async () => (await getJson('/v1/stores')).stores?.map((s: { storeId: string }) => s.storeId), { timeout: 10_000 })
      .toContain('S3');
  });

  extra?.(() => ({ host, nats, dir }));
}

describe('head office on SQLite', () => headOfficeOn(() => 'sqlite'));

describeOnPostgres('head office on PostgreSQL', await postgresForTests(), (postgres) => {
  afterAll(() => postgres.dropSchemas());
  const schema = postgres.freshSchema();
  const query = async <Row extends object>(sql: string, values: unknown[] = []): Promise<Row[]> => {
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      return (await client.query<Row>(sql, values)).rows as Row[];
    } finally {
      await client.end();
    }
  };
  const tableExists = async (table: string) =>
    (await query<{ found: boolean }>('SELECT to_regclass($1) IS NOT NULL AS found', [table]))[0]!.found;
  headOfficeOn(
    () => ({ postgresUrl: `${postgres.url}?schema=${schema}` }),
    (context) => {
      it('keeps its events in the schema the URL names', async () => {
        const { host } = context();
        expect(host.store).toBeInstanceOf(PostgresEventStore);
        const rows = await query<{ count: string }>(`SELECT count(*) AS count FROM "${schema}".events WHERE stream_id = 'store-S1'`);
        expect(rows[0]!.count).toBe('4');
      });

      it('cardsys host --event-store postgres://… (here from CARDSYS_EVENT_STORE) runs head office on it', async () => {
        const { nats, dir } = context();
        const cliSchema = postgres.freshSchema();
        const url = `${postgres.url}?schema=${cliSchema}`;
        const child = spawn(
          process.execPath,
          ['bin/cardsys.js', 'host', '--nats', nats.url, '--data', join(dir, 'cli'), '--http', '127.0.0.1:0'],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, CARDSYS_EVENT_STORE: url },
          },
        );
        let stderr = '';
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        await expect.poll(() => stderr, { timeout: 20_000 }).toContain('query API: http://127.0.0.1:');
        expect(stderr).toContain(`event store PostgreSQL ${url}`);
        expect(await tableExists(`"${cliSchema}".events`)).toBe(true);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      });
    },
  );
});
