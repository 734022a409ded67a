// Two `cardsys host` processes on one PostgreSQL schema and one nats-server: one writes, the other
// follows; when the writer dies (kill -9) or stalls past its lease (SIGSTOP), the follower takes
// over within 10 s, while a store's edge replicates its log and the store asks for load
// authorisations, both with the store's own NATS credentials. Nothing is lost or doubled in the event store, no load is authorised
// twice, and a stalled writer that wakes appends nothing and steps down.

import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeEnvelope, decodeEvent, loadSigningKey, pb, subjects } from '../../contracts/index.js';
import { type EdgeNode, startEdge } from '../../edge/index.js';
import { CHAIN_HEAD_RECORD_TYPE, PostgresEventStore, type StoredRecord } from '../../eventstore/index.js';
import {
  headOfficeFiles,
  issuerKeysFile,
  loadOrCreateIssuerKeys,
  provisionHeadOffice,
  provisionStore,
  storeNatsOptions,
  writeHubNatsConfig,
} from '../../host/provisioning/index.js';
import { freePort } from '../../infra/index.js';
import { type NatsServer, startNatsServer } from '../../infra/nats/index.js';
import { capturingLogger, purchase } from '../../testkit/backbone.js';
import { describeOnPostgres, postgresForTests } from '../support/postgres.js';
import { tokenFor } from '../../host/api/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';

const TAKEOVER_LIMIT_MS = 10_000;
const STORE = 'S1';
const ACCOUNT = {
  bankCode: '0001',
  branchCode: '001',
  accountNumber: '0000001',
  balance: 1_000_000,
};
const BANK_ID = '00010010000001';
const LOAD = 1000;

/** One `cardsys host` child process and what it said on stderr. */
class HostProcess {
  log = '';
  url = '';
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    dataDir: string,
    natsUrl: string,
    eventStore: string,
    extraArgs: string[] = [],
  ) {
    this.child = spawn(
      process.execPath,
      ['bin/cardsys.js', 'host', '--nats', natsUrl, '--data', dataDir, '--http', '127.0.0.1:0', '--event-store', eventStore, ...extraArgs],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.child.stderr!.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('exit', resolve));
  }

  async started(): Promise<this> {
    await expect.poll(() => this.log, { timeout: 30_000, interval: 100 }).toMatch(/query API: http:\/\/127\.0\.0\.1:\d+/);
    this.url = /query API: (http:\/\/127\.0\.0\.1:\d+)/.exec(this.log)![1]!;
    return this;
  }

  async health(): Promise<{
    role?: string;
    lease?: { holder: { apiUrl: string; term: number } | null };
  }> {
    try {
      return (await (
        await fetch(`${this.url}/healthz`, {
          signal: AbortSignal.timeout(1000),
        })
      ).json()) as never;
    } catch {
      return {};
    }
  }

  /** Milliseconds from `since` until /healthz says this instance leads. */
  async leadsWithin(since: number, timeoutMs = 30_000): Promise<number> {
    for (;;) {
      if ((await this.health()).role === 'leader') return Date.now() - since;
      if (Date.now() - since > timeoutMs) throw new Error(`${this.name} did not take over within ${timeoutMs} ms; its log:\n${this.log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

type AuthorisationAnswer = {
  mac: string;
  deadlineMs: number;
  accountBalance: number;
};

describeOnPostgres('two head-office instances on one PostgreSQL event store', await postgresForTests(), (postgres) => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-failover-'));
  const schema = postgres.freshSchema();
  const eventStoreUrl = `${postgres.url}?schema=${schema}`;
  const hosts: HostProcess[] = [];
  let nats: NatsServer;
  let edge: EdgeNode;
  let storeNc: NatsConnection;
  let events: PostgresEventStore;
  const firstAnswers = new Map<string, AuthorisationAnswer>();
  const takeovers: number[] = [];

  const instance = async (name: string, extraArgs: string[] = []) => {
    const host = new HostProcess(name, join(root, name), nats.url, eventStoreUrl, extraArgs);
    hosts.push(host);
    return host.started();
  };

  beforeAll(async () => {
    // Head office is provisioned once; the second instance gets a copy of its keys and directory.
    const hqA = join(root, 'a', 'hq');
    provisionHeadOffice({ hqDataDir: hqA });
    loadOrCreateIssuerKeys(issuerKeysFile(hqA));
    const store = provisionStore({
      hqDataDir: hqA,
      storeId: STORE,
      name: 'Store 1',
      bundleDir: join(root, 'store'),
    });
    for (const other of ['b', 'c']) {
      for (const folder of ['keys', 'directory', 'tls'])
        cpSync(join(hqA, folder), join(root, other, 'hq', folder), {
          recursive: true,
        });
    }
    // The hub as `cardsys host nats-config` writes it: TLS with head office's CA, one account per store.
    const port = await freePort();
    const hubDir = join(root, 'nats');
    const { file } = writeHubNatsConfig(hqA, {
      listen: `127.0.0.1:${port}`,
      jetstreamDir: join(hubDir, 'jetstream'),
      out: join(hubDir, 'nats-server.conf'),
    });
    nats = await startNatsServer({ dataDir: hubDir, port, configFile: file });
    const storeNats = storeNatsOptions(join(root, 'store'), 'store');
    edge = await startEdge({
      storeId: STORE,
      dataDir: join(root, 'store', 'data'),
      natsUrl: nats.url,
      natsOptions: { ...storeNats, reconnectTimeWait: 200 },
      signingKey: loadSigningKey(store.bundle.signingKey),
      logger: capturingLogger().logger,
    });
    storeNc = await connect({ servers: nats.url, ...storeNats });
    events = await PostgresEventStore.connect(eventStoreUrl);
    // The cards the store loads, issued by head office for the account (no card head office never issued is loaded).
    const issuing = await HqWriter.open({ store: events, signingKey: loadSigningKey(headOfficeFiles(hqA).signingKey) });
    const cards = [
      ...Array.from({ length: 24 }, (_, i) => `c0000000000000${(i + 1).toString(16).padStart(2, '0')}`),
      ...Array.from({ length: 8 }, (_, i) => `d00000000000001${i}`),
      'd0000000000000ff',
    ];
    await issuing.append(
      cards.map((cardId) => ({
        event: {
          type: 'CardPrimaryIssued',
          data: { cardId, userId: `user-${cardId}`, bankId: BANK_ID, expiry: '2031-12-31', keyVersion: 1 },
        },
        streamId: `card-${cardId}`,
      })),
    );
  });
  afterAll(async () => {
    // CARDSYS_TEST_ECHO_LOG=1 prints what each head-office process said.
    if (process.env.CARDSYS_TEST_ECHO_LOG === '1') for (const host of hosts) console.log(`--- ${host.name}\n${host.log}`);
    for (const host of hosts) {
      host.signal('SIGCONT');
      host.signal('SIGKILL');
      await host.exited;
    }
    await edge?.stop();
    await storeNc?.close();
    await events?.close();
    await nats?.stop();
    await postgres.dropSchemas();
    rmSync(root, { recursive: true, force: true });
  });

  const authoriseRequest = (authorizationId: string, cardId: string) =>
    pb.InquiryRequest.encode({
      storeId: STORE,
      terminalId: 'pos-1',
      authorise: {
        authorizationId,
        cardId,
        bankId: BANK_ID,
        amount: LOAD,
        cardCounter: 0,
      },
    }).finish();

  /** Asks for a load authorisation as the store's edge does, again and again with the same id until head office answers. */
  const authorise = async (authorizationId: string, cardId: string): Promise<AuthorisationAnswer> => {
    const request = authoriseRequest(authorizationId, cardId);
    for (;;) {
      try {
        const reply = pb.InquiryReply.decode(
          (
            await storeNc.request(subjects.inquiry(STORE), request, {
              timeout: 1500,
            })
          ).data,
        );
        if (reply.ok)
          return {
            mac: Buffer.from(reply.authorisation!.mac!).toString('hex'),
            deadlineMs: Number(reply.authorisation!.deadlineMs),
            accountBalance: Number(reply.accountBalance),
          };
        // Head office could not answer (its writer stepping down): the edge asks again.
        expect(reply.code).toBe('error');
      } catch (error) {
        if ((error as Error).name === 'AssertionError') throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };

  const authoriseFirst = async (authorizationId: string, cardId: string) => {
    const answer = await authorise(authorizationId, cardId);
    firstAnswers.set(authorizationId, answer);
    return answer;
  };

  const hqEvents = async () =>
    (await events.readStream('hq'))
      .filter((record: StoredRecord) => record.type !== CHAIN_HEAD_RECORD_TYPE)
      .map((record) => {
        const envelope = decodeEnvelope(record.data);
        return {
          seq: envelope.storeSeq,
          event: decodeEvent(envelope.eventType, envelope.payload),
        };
      });

  const authorisationIdsOf = async (type: 'LoadAuthorised' | 'BankAccountDebited') =>
    (await hqEvents()).flatMap(({ event }) => (event.type === type ? [event.data.authorizationId] : []));

  it('one instance writes, the other follows and answers writes with 503 naming the writer', async () => {
    const a = await instance('a');
    await a.leadsWithin(Date.now());
    const b = await instance('b');
    await expect.poll(async () => (await b.health()).role, { timeout: 20_000 }).toBe('follower');
    const health = await b.health();
    expect(health.lease?.holder).toMatchObject({ apiUrl: a.url, term: 1 });

    const authorization = `Bearer ${await tokenFor(join(root, 'a', 'hq'), 'bank-feed')}`;
    const post = (host: HostProcess) =>
      fetch(`${host.url}/v1/bank-accounts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(ACCOUNT),
      });
    const refused = await post(b);
    expect(refused.status).toBe(503);
    const body = (await refused.json()) as {
      error: string;
      message: string;
      leader: string;
    };
    expect(body).toMatchObject({ error: 'not_leader', leader: a.url });
    expect(body.message).toContain(a.url);
    expect((await post(a)).status).toBe(201);
    // The follower's read models follow the shared event store.
    await expect
      .poll(
        async () =>
          (await (
            await fetch(`${b.url}/v1/stores`, {
              headers: { authorization: `Bearer ${await tokenFor(join(root, 'a', 'hq'), 'operator')}` },
            })
          ).json()) as unknown,
        {
          timeout: 10_000,
        },
      )
      .toMatchObject({ stores: [{ storeId: STORE }] });
    // The books' reports only read: the follower serves them from its own read models too.
    const float = await fetch(`${b.url}/v1/float`, {
      headers: { authorization: `Bearer ${await tokenFor(join(root, 'a', 'hq'), 'operator')}` },
    });
    expect(float.status).toBe(200);
    expect(await float.json()).toMatchObject({ byEventTime: { total: 0 }, byKnowledgeTime: { total: 0 } });
  });

  it('kill -9 of the writer while the store replicates and asks for loads: the follower takes over within 10 s, nothing lost or doubled', async () => {
    const [a, b] = hosts as [HostProcess, HostProcess];
    const batches = 60;
    const perBatch = 5;
    const loads = 24;
    let killedAt = 0;
    const replication = (async () => {
      for (let i = 0; i < batches; i++) {
        await edge.log.append(Array.from({ length: perBatch }, (_, k) => purchase(i * perBatch + k)));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const authorisations = (async () => {
      for (let i = 1; i <= loads; i++) {
        if (i === loads / 2) {
          a.signal('SIGKILL');
          killedAt = Date.now();
        }
        await authoriseFirst(`a0000000000000${i.toString(16).padStart(2, '0')}`, `c0000000000000${i.toString(16).padStart(2, '0')}`);
      }
    })();
    await expect.poll(() => killedAt, { timeout: 30_000 }).toBeGreaterThan(0);
    const takeoverMs = await b.leadsWithin(killedAt);
    takeovers.push(takeoverMs);
    console.log(`failover after kill -9: the follower led ${takeoverMs} ms after the kill`);
    expect(takeoverMs).toBeLessThan(TAKEOVER_LIMIT_MS);
    await Promise.all([replication, authorisations]);
    expect(await a.exited).toBe(null);

    // Every event of the store's log is in the event store once, in order.
    const total = batches * perBatch;
    await expect
      .poll(
        async () =>
          (await (
            await fetch(`${b.url}/v1/stores/${STORE}/sync`, {
              headers: { authorization: `Bearer ${await tokenFor(join(root, 'a', 'hq'), 'operator')}` },
            })
          ).json()) as { lastSeqReceived: number },
        {
          timeout: 40_000,
        },
      )
      .toMatchObject({ lastSeqReceived: total });
    const stored = (await events.readStream(`store-${STORE}`)).filter((record) => record.type !== CHAIN_HEAD_RECORD_TYPE);
    expect(stored.map((record) => decodeEnvelope(record.data).storeSeq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(stored.map((record) => record.id)).toEqual(edge.log.read(1, total).map((entry) => entry.envelope.eventId));

    // Each load authorised once, the account debited once for it; asked again, the first answer.
    const ids = [...firstAnswers.keys()];
    expect((await authorisationIdsOf('LoadAuthorised')).sort()).toEqual([...ids].sort());
    expect((await authorisationIdsOf('BankAccountDebited')).sort()).toEqual([...ids].sort());
    for (const [id, first] of firstAnswers) {
      const again = await authorise(id, `c${id.slice(1)}`);
      expect({ mac: again.mac, deadlineMs: again.deadlineMs }).toEqual({
        mac: first.mac,
        deadlineMs: first.deadlineMs,
      });
      expect(again.accountBalance).toBe(ACCOUNT.balance - loads * LOAD);
    }

    // Head office's chain has no gap and no repeat; the new writer's term opened it again.
    const hq = await hqEvents();
    expect(hq.map((e) => e.seq)).toEqual(Array.from({ length: hq.length }, (_, i) => i + 1));
    expect(hq.flatMap(({ event }) => (event.type === 'HeadOfficeWriterStarted' ? [[event.data.term, event.data.apiUrl]] : []))).toEqual([
      [1, a.url],
      [2, b.url],
    ]);
  });

  it('a writer paused past its lease (SIGSTOP), loads in flight, is replaced; woken (SIGCONT) it appends nothing and steps down', async () => {
    const b = hosts[1]!;
    // This one tells the others where clients reach it (a machine behind a load balancer, say).
    const advertised = 'http://hq-c.example:8080';
    const c = await instance('c', ['--advertise', advertised]);
    await expect.poll(async () => (await c.health()).role, { timeout: 20_000 }).toBe('follower');
    const before = await hqEvents();

    // Loads in flight when the writer stops: some may be mid-append, holding the event store's append lock.
    const burst = Array.from({ length: 8 }, (_, i) => authoriseFirst(`b00000000000001${i}`, `d00000000000001${i}`));
    b.signal('SIGSTOP');
    const pausedAt = Date.now();
    // Asked once and never again, this request reaches only the paused writer (it waits in its socket).
    await expect(
      storeNc.request(subjects.inquiry(STORE), authoriseRequest('b0000000000000ff', 'd0000000000000ff'), { timeout: 1000 }),
    ).rejects.toThrow();
    const takeoverMs = await c.leadsWithin(pausedAt);
    takeovers.push(takeoverMs);
    console.log(`failover after SIGSTOP: the follower led ${takeoverMs} ms after the pause`);
    expect(takeoverMs).toBeLessThan(TAKEOVER_LIMIT_MS);
    await Promise.all(burst);

    b.signal('SIGCONT');
    await expect.poll(async () => (await b.health()).role, { timeout: 20_000 }).toBe('follower');
    expect(b.log).toMatch(/stepping down from the writer \(term 2\)/);
    await expect.poll(async () => (await b.health()).lease?.holder, { timeout: 10_000 }).toMatchObject({ apiUrl: advertised, term: 3 });

    // After the new term's opening only the new writer's decisions; each load once, the first answer again.
    const after = (await hqEvents()).slice(before.length);
    const opening = after.findIndex(({ event }) => event.type === 'HeadOfficeWriterStarted');
    expect(after[opening]?.event).toMatchObject({
      data: { term: 3, apiUrl: advertised },
    });
    const refused = await fetch(`${b.url}/v1/cards/d000000000000010/blacklist`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tokenFor(join(root, 'a', 'hq'), 'operator')}` },
      body: '{"reason":"lost"}',
    });
    expect({
      status: refused.status,
      body: await refused.json(),
    }).toMatchObject({ status: 503, body: { leader: advertised } });
    expect(after.slice(opening + 1).every(({ event }) => event.type === 'BankAccountDebited' || event.type === 'LoadAuthorised')).toBe(
      true,
    );
    const loaded = await authorisationIdsOf('LoadAuthorised');
    for (let i = 0; i < 8; i++) {
      const id = `b00000000000001${i}`;
      expect(loaded.filter((found) => found === id)).toHaveLength(1);
      const again = await authorise(id, `d00000000000001${i}`);
      expect({ mac: again.mac, deadlineMs: again.deadlineMs }).toEqual({
        mac: firstAnswers.get(id)!.mac,
        deadlineMs: firstAnswers.get(id)!.deadlineMs,
      });
    }
    // The request only the paused writer had was decided by nobody (the edge would ask again).
    expect(loaded).not.toContain('b0000000000000ff');
    console.log(`takeover times: ${takeovers.join(', ')} ms`);
  });
});
