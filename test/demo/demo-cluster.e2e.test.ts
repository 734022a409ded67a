// `cardsys demo --cluster` as a user runs it: the day at the counter on head office past one
// machine — the hub a 3-node JetStream cluster, each store's broker a leaf of every node, two
// head-office instances on one PostgreSQL event store — every part a real process; checked from
// what the demo prints, the files it leaves and the shared event store.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decodeEnvelope, decodeEvent, HQ_ORIGIN } from '../../contracts/index.js';
import { CHAIN_HEAD_RECORD_TYPE, originStreamName, PostgresEventStore } from '../../eventstore/index.js';
import { storeBundleFiles } from '../../host/provisioning/index.js';
import { describeOnPostgres, postgresForTests } from '../support/postgres.js';

const DEMO_TIMEOUT_MS = 240_000;
const postgres = await postgresForTests();

describeOnPostgres('cardsys demo --cluster', postgres, (server) => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-demo-cluster-'));
  const dataDir = join(root, 'data');
  const eventStore = `${server.url}?schema=${server.freshSchema()}`;
  afterAll(async () => {
    await server.dropSchemas();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    'runs the day on a 3-node hub and two head-office instances on PostgreSQL, naming who leads; every store broker is a leaf of every node',
    async () => {
      const child = spawn(
        process.execPath,
        ['bin/cardsys.js', 'demo', '--cluster', '--event-store', eventStore, '--data', dataDir, '--http', '127.0.0.1:0', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let said = '';
      let stdout = '';
      child.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code, said).toBe(0);
      expect(said).toContain('demo finished: every process stopped');

      // Who leads: head office 1 holds the writer lease, head office 2 follows; a hub node leads the events stream.
      const leader = /head office 1 (http:\/\/127\.0\.0\.1:\d+): leader \(writer lease term 1\)/.exec(said)?.[1];
      const follower = /head office 2 (http:\/\/127\.0\.0\.1:\d+): follower/.exec(said)?.[1];
      expect(leader).toBeDefined();
      expect(follower).toBeDefined();
      expect(follower).not.toBe(leader);
      expect(said).toMatch(/3 nodes of one JetStream cluster/);
      const placement = /stream CARDSYS_EVENTS led by node (cardsys-hub-[1-3]), copies on (.+)/.exec(said);
      expect(placement).not.toBeNull();
      expect([placement![1], ...placement![2]!.split(', ').map((peer) => peer.replace(/ \(catching up\)$/, ''))].sort()).toEqual([
        'cardsys-hub-1',
        'cardsys-hub-2',
        'cardsys-hub-3',
      ]);

      // The day completed on the cluster: store A offline and back, the chip and head office agree, the audit finds nothing.
      expect(said).toMatch(/→ 2 events behind/);
      expect(said).toMatch(/1 load of ¥10,000, 3 pays of ¥7,500 in all, balance ¥2,500/);
      expect(said).toMatch(/\d+ events verified: no findings/);
      expect(said).toMatch(/head office owes store A ¥7,500/);
      const summary = JSON.parse(stdout) as { ok: boolean; cardId: string; chipBalance: number; apiUrl: string };
      expect(summary).toMatchObject({ ok: true, chipBalance: 2_500, apiUrl: leader });

      // Each store's broker dials every hub node (through its WAN link).
      for (const storeId of ['A', 'B']) {
        const config = readFileSync(storeBundleFiles(join(dataDir, 'stores', storeId)).brokerConfig, 'utf8');
        const urls = /remotes = \[ \{ urls: \[([^\]]*)\]/.exec(config)?.[1]?.split(',') ?? [];
        expect(new Set(urls.map((url) => url.trim())).size, config).toBe(3);
      }

      // The day's events are in the shared PostgreSQL schema: store A's three pays once each, in order, and one writer term.
      const events = await PostgresEventStore.connect(eventStore);
      try {
        const domainEvents = async (origin: string) =>
          (await events.readStream(originStreamName(origin)))
            .filter((record) => record.type !== CHAIN_HEAD_RECORD_TYPE)
            .map((record) => decodeEnvelope(record.data))
            .map((envelope) => decodeEvent(envelope.eventType, envelope.payload));
        const storeA = await domainEvents('A');
        expect(
          storeA.filter((event) => event.type === 'PursePaid').map((event) => event.type === 'PursePaid' && event.data.amount),
        ).toEqual([5_500, 1_200, 800]);
        const hq = await domainEvents(HQ_ORIGIN);
        expect(hq.filter((event) => event.type === 'HeadOfficeWriterStarted')).toHaveLength(1);
      } finally {
        await events.close();
      }
    },
    DEMO_TIMEOUT_MS,
  );
});
