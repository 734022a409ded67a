// `cardsys demo --cluster` as a user runs it: the day at the counter on head office past one
// machine — the hub a 3-node JetStream cluster, each store's broker a leaf of every node, two
// head-office instances on one PostgreSQL event store — every part a real process, with the hub
// node leading the events stream and then the writing head-office instance killed; checked from
// what the demo prints, the files it leaves and the shared event store. Store A's offline hour is
// left out (--skip offline): the one-machine demo's test runs it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { decodeEnvelope, decodeEvent, HQ_ORIGIN } from '../../contracts/index.js';
import { CHAIN_HEAD_RECORD_TYPE, originStreamName, PostgresEventStore } from '../../eventstore/index.js';
import { storeBundleFiles } from '../../host/provisioning/index.js';
import { endDemo } from '../support/demo-process.js';
import { describeOnPostgres, postgresForTests } from '../support/postgres.js';

const DEMO_TIMEOUT_MS = 180_000;
const postgres = await postgresForTests();

describeOnPostgres('cardsys demo --cluster', postgres, (server) => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-demo-cluster-'));
  const dataDir = join(root, 'data');
  const eventStore = `${server.url}?schema=${server.freshSchema()}`;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child) await endDemo(child, root);
    await server.dropSchemas();
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it(
    'runs the day on a 3-node hub and two head-office instances on PostgreSQL, naming who leads, and survives kill -9 of the leading hub node and of the writer; every store broker is a leaf of every node',
    async () => {
      const demo = spawn(
        process.execPath,
        [
          'bin/cardsys.js',
          'demo',
          '--cluster',
          '--event-store',
          eventStore,
          '--data',
          dataDir,
          '--http',
          '127.0.0.1:0',
          '--skip',
          'offline',
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let said = '';
      let stdout = '';
      child = demo;
      demo.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
      demo.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => demo.once('exit', resolve));
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
      expect([placement![1], ...placement![2]!.split(', ').map((peer) => peer.replace(/ \((not current|down)\)$/, ''))].sort()).toEqual([
        'cardsys-hub-1',
        'cardsys-hub-2',
        'cardsys-hub-3',
      ]);

      // The leading hub node killed while store A paid: the stream has a new leader among the others, each pay reached head office once.
      const killedNode = /node (cardsys-hub-[1-3]) \(leader of CARDSYS_EVENTS\) killed with kill -9/.exec(said)?.[1];
      expect(killedNode, said).toBeDefined();
      const elected = /hub: CARDSYS_EVENTS led by node (cardsys-hub-[1-3]), .*: new leader (\d+) ms after the kill/.exec(said);
      expect(elected, said).not.toBeNull();
      expect(elected![1]).not.toBe(killedNode);
      expect(said).toMatch(/POS: paid ¥300; balance ¥4,200\n\s+POS: paid ¥200; balance ¥4,000/);
      expect(said).toMatch(/head office: 1 load\(s\) ¥10,000, 3 pay\(s\) ¥6,000, chip balance last seen ¥4,000: each pay once/);

      // Head office 1 killed: head office 2 leads within the 10 s and authorises a load.
      const takeover = new RegExp(`head office 2 ${follower}: leader \\(writer lease term 2\\) (\\d+) ms after the kill`).exec(said);
      expect(takeover, said).not.toBeNull();
      expect(Number(takeover![1])).toBeLessThan(10_000);
      expect(said).toMatch(/POS: loaded ¥1,000; balance ¥5,000\n\s+head office: 2 load\(s\) ¥11,000/);

      // The day completed on the cluster: the chip and head office agree, the audit finds nothing.
      expect(said).not.toMatch(/goes offline/);
      expect(said).toMatch(/2 loads of ¥11,000, 3 pays of ¥6,000 in all, balance ¥5,000/);
      expect(said).toMatch(/\d+ events verified: no findings/);
      expect(said).toMatch(/head office owes store A ¥6,000/);
      expect(said).toContain(`head office 2 ${follower} holds the writer lease since head office 1 was killed`);
      const summary = JSON.parse(stdout) as { ok: boolean; cardId: string; chipBalance: number; apiUrl: string };
      expect(summary).toMatchObject({ ok: true, chipBalance: 5_000, apiUrl: follower });

      // Each store's broker dials every hub node (through its WAN link).
      for (const storeId of ['A', 'B']) {
        const config = readFileSync(storeBundleFiles(join(dataDir, 'stores', storeId)).brokerConfig, 'utf8');
        const urls = /remotes = \[ \{ urls: \[([^\]]*)\]/.exec(config)?.[1]?.split(',') ?? [];
        expect(new Set(urls.map((url) => url.trim())).size, config).toBe(3);
      }

      // The day's events are in the shared PostgreSQL schema: store A's pays and loads once each, in order, and two writer terms.
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
        ).toEqual([5_500, 300, 200]);
        expect(
          storeA.filter((event) => event.type === 'PurseLoaded').map((event) => event.type === 'PurseLoaded' && event.data.amount),
        ).toEqual([10_000, 1_000]);
        const hq = await domainEvents(HQ_ORIGIN);
        expect(hq.filter((event) => event.type === 'HeadOfficeWriterStarted')).toHaveLength(2);
      } finally {
        await events.close();
      }
    },
    DEMO_TIMEOUT_MS,
  );
});
