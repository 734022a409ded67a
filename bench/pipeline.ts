// The pipeline figure: events appended at store edges until head office has them in its host event
// store and has confirmed them back (StoreAck), beside raw JetStream async publish of the same
// envelope bytes, one message each; the same rows appended to a host SQLite event store beside a
// bare insert of them (sqlite-append.ts), and into PostgreSQL (PG_URL, a fresh schema dropped
// afterwards) beside it.
// Each edge runs in its own worker thread; head office (ingest and its event store: SQLite, or with
// `eventStore: 'postgres'` PostgreSQL at PG_URL in a fresh schema) in this one.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import pg from 'pg';
import { generateSigningKey } from '../contracts/index.js';
import { EventLog, edgeLogDir, type LogEntry } from '../edge/index.js';
import {
  type EventStore,
  type NewRecord,
  originStreamName,
  PostgresEventStore,
  readOriginTail,
  SqliteEventStore,
  withoutPassword,
} from '../eventstore/index.js';
import { ensureCertificateAuthority, issueCertificate, LOCAL_HOSTS, natsTlsOptions } from '../infra/nats/index.js';
import { HqWriter, registerStore, storeKeyDirectory } from '../host/hq-writer/index.js';
import { DUPLICATE_WINDOW_MS, ensureEventsStream, startIngest } from '../host/ingest/index.js';
import type { Logger } from '../infra/index.js';
import { siblingModule, workerSource } from '../infra/index.js';
import { startNatsServer } from '../infra/nats/index.js';
import { type Goal, notMeasuredGoal, ratioGoal } from './goals.js';
import type { EdgeWorkerCommand, EdgeWorkerData, EdgeWorkerMessage } from './pipeline-edge.js';
import { benchSqliteAppend, type SqliteAppendFigures } from './sqlite-append.js';

export interface PipelineBenchOptions {
  /** Events each store appends. */
  eventsPerStore?: number;
  stores?: number;
  /** Events per EventLog.append call at the edge. */
  appendChunk?: number;
  /** Raw publish: most acks awaited at once. */
  publishWindow?: number;
  /** Runs of the pipeline (each with new stores) and of the raw publish; the fastest of each counts. */
  runs?: number;
  /** Head office's event store in the pipeline run: SQLite (default) or PostgreSQL at PG_URL. */
  eventStore?: PipelineEventStore;
  /** Every NATS link (edges, head office, the raw baseline) over TLS with a private CA, as deployed. */
  tls?: boolean;
  progress?: (message: string) => void;
}

export const PIPELINE_EVENT_STORES = ['sqlite', 'postgres'] as const;
export type PipelineEventStore = (typeof PIPELINE_EVENT_STORES)[number];

export interface PipelineFigures {
  /** Whether the NATS links ran over TLS. */
  tls: boolean;
  stores: number;
  eventsPerStore: number;
  events: number;
  /** The host event store the pipeline ran on. */
  eventStore: string;
  /** Appended at the edges → committed in the host event store and confirmed back to every edge: the fastest of the runs. */
  committed: { seconds: number; eventsPerSecond: number; runsEventsPerSecond: number[] };
  /** The same envelope bytes, one JetStream message each with a msgID, every ack awaited: the fastest of the runs. */
  rawJetStream:
    | {
        seconds: number;
        messagesPerSecond: number;
        runsMessagesPerSecond: number[];
      }
    | { notMeasured: string };
  /** The same rows appended to a fresh host event store file, beside a bare insert of them. */
  sqliteAppend: SqliteAppendFigures;
  /** The same rows and appends into the PostgreSQL event store at PG_URL; ratioToSqlite = its rows per second / SQLite's host append. */
  rawPostgres: (RawInsertFigures & { url: string; ratioToSqlite: number }) | { unavailable: string };
  /** committed / raw JetStream (at least 3), and host SQLite append / bare insert (at least 0.5). */
  goals: { committedToRawJetStream: Goal; hostSqliteAppendToBareInsert: Goal };
}

interface RawInsertFigures {
  seconds: number;
  rowsPerSecond: number;
  rowsPerAppend: number;
}

const DEFAULTS = {
  eventsPerStore: 50_000,
  stores: 2,
  appendChunk: 500,
  publishWindow: 2000,
  runs: 2,
};
const RAW_ROWS_PER_APPEND = 4000;
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const perSecond = (count: number, ms: number) => Math.round((count * 1000) / ms);
const seconds = (ms: number) => Math.round(ms) / 1000;

export async function benchPipeline(options: PipelineBenchOptions = {}): Promise<PipelineFigures> {
  const { eventsPerStore, stores, appendChunk, publishWindow, runs } = {
    ...DEFAULTS,
    ...definedOnly(options),
  };
  const onPostgres = options.eventStore === 'postgres';
  const progress = options.progress ?? (() => undefined);
  const quiet = { info: () => undefined, warn: progress, error: progress };
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-bench-pipeline-'));
  const tls = options.tls ? benchTls(join(dir, 'tls')) : undefined;
  const nats = await startNatsServer({ dataDir: join(dir, 'nats'), ...(tls ? { extraConfig: tls.serverConfig } : {}) });
  const clientTls = natsTlsOptions(tls?.ca);
  const cleanups: Array<() => Promise<unknown>> = [async () => nats.stop()];
  try {
    const nc = await connect({ servers: nats.url, ...clientTls });
    cleanups.unshift(() => nc.close());
    await ensureEventsStream(nc);
    const pipelineSchema = `cardsys_bench_${randomBytes(6).toString('hex')}`;
    const store: EventStore = onPostgres
      ? await PostgresEventStore.connect(PG_URL, { schema: pipelineSchema })
      : SqliteEventStore.open(join(dir, 'host', 'events.db'));
    cleanups.unshift(() => store.close());
    if (onPostgres) cleanups.push(() => dropSchema(pipelineSchema));
    const hq = await HqWriter.open({ store, signingKey: generateSigningKey() });
    const ingest = await startIngest({
      nc,
      store,
      storeKeys: storeKeyDirectory(store),
      logger: quiet,
    });
    cleanups.unshift(() => ingest.stop());

    const total = eventsPerStore * stores;
    // Each run with stores of its own (fresh logs), as many runs as the raw baseline gets: the
    // fastest of each counts, so neither side is flattered or harmed by a busy moment.
    const runsMs: number[] = [];
    let firstRunEdges: EdgeWorker[] | undefined;
    for (let run = 1; run <= runs; run++) {
      const edges = Array.from({ length: stores }, (_, i) => {
        const storeId = `bench${(run - 1) * stores + i + 1}`;
        return new EdgeWorker(
          {
            storeId,
            dataDir: join(dir, 'stores', storeId),
            natsUrl: nats.url,
            ...(tls ? { tlsCa: tls.ca } : {}),
            events: eventsPerStore,
            appendChunk,
          },
          progress,
        );
      });
      cleanups.unshift(async () => Promise.all(edges.map((edge) => edge.terminate())));
      for (const edge of edges) {
        const { publicKey } = await edge.next('key');
        await registerStore(hq, {
          storeId: edge.storeId,
          name: `Bench store ${edge.storeId}`,
          publicKey,
        });
      }
      await Promise.all(edges.map((edge) => edge.send({ kind: 'start' }).next('ready')));
      progress(
        `pipeline run ${run}: ${stores} stores append ${eventsPerStore.toLocaleString('en')} events each; timing until head office confirms them all`,
      );
      const report = setInterval(() => {
        const confirmed = edges.reduce((sum, edge) => sum + edge.confirmedSeq, 0);
        progress(`pipeline: ${confirmed.toLocaleString('en')} of ${total.toLocaleString('en')} events confirmed`);
      }, 1000).unref();
      const started = performance.now();
      await Promise.all(edges.map((edge) => edge.send({ kind: 'append' }).next('confirmed')));
      const pipelineMs = performance.now() - started;
      clearInterval(report);
      runsMs.push(pipelineMs);
      progress(
        `pipeline run ${run}: all ${total.toLocaleString('en')} events committed at head office and confirmed in ${seconds(pipelineMs)} s`,
      );
      await Promise.all(edges.map((edge) => edge.send({ kind: 'stop' }).next('stopped')));
      await assertAllStored(
        store,
        edges.map((edge) => edge.storeId),
        eventsPerStore,
      );
      firstRunEdges ??= edges;
    }
    const pipelineMs = Math.min(...runsMs);
    const edges = firstRunEdges!;

    const logs = await Promise.all(edges.map((edge) => readWholeLog(edge.data, quiet)));
    // A failed baseline run does not discard the committed figure: the ratio is then not measured.
    const rawRunsMs: number[] = [];
    const rawFailures: string[] = [];
    for (let run = 1; run <= runs; run++) {
      try {
        rawRunsMs.push(await rawJetStreamPublish(nc, `BENCH_RAW_${run}`, logs, publishWindow, progress));
      } catch (error) {
        rawFailures.push(`run ${run}: ${(error as Error).message}`);
        progress(`raw JetStream run ${run} failed: ${(error as Error).message}`);
      }
    }
    const sqliteAppend = await benchSqliteAppend({
      dir: join(dir, 'sqlite'),
      streams: logs.map(({ storeId, entries }) => ({ streamId: originStreamName(storeId), records: entries.map(recordOf) })),
      rowsPerAppend: RAW_ROWS_PER_APPEND,
      progress,
    });
    const rawPostgres = await rawPostgresInsert(logs, sqliteAppend.hostAppend.rowsPerSecond, progress);

    const committed = {
      seconds: seconds(pipelineMs),
      eventsPerSecond: perSecond(total, pipelineMs),
      runsEventsPerSecond: runsMs.map((ms) => perSecond(total, ms)),
    };
    const rawJetStreamMs = rawRunsMs.length > 0 ? Math.min(...rawRunsMs) : undefined;
    const rawJetStream: PipelineFigures['rawJetStream'] =
      rawJetStreamMs === undefined
        ? { notMeasured: `every raw JetStream run failed (${rawFailures.join('; ')})` }
        : {
            seconds: seconds(rawJetStreamMs),
            messagesPerSecond: perSecond(total, rawJetStreamMs),
            runsMessagesPerSecond: rawRunsMs.map((ms) => perSecond(total, ms)),
          };
    return {
      tls: tls !== undefined,
      stores,
      eventsPerStore,
      events: total,
      eventStore: onPostgres ? `PostgreSQL ${withoutPassword(PG_URL)}` : 'SQLite',
      committed,
      rawJetStream,
      sqliteAppend,
      rawPostgres,
      goals: {
        committedToRawJetStream:
          'notMeasured' in rawJetStream
            ? notMeasuredGoal(3, rawJetStream.notMeasured)
            : ratioGoal(committed.eventsPerSecond, rawJetStream.messagesPerSecond, 3),
        hostSqliteAppendToBareInsert: ratioGoal(sqliteAppend.hostAppend.rowsPerSecond, sqliteAppend.bareInsert.rowsPerSecond, 0.5),
      },
    };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A private CA and a server certificate for 127.0.0.1, and the server's `tls` block using them. */
function benchTls(dir: string): { ca: string; serverConfig: string } {
  const ca = { cert: join(dir, 'ca.pem'), key: join(dir, 'ca-key.pem') };
  const server = { cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem') };
  ensureCertificateAuthority(ca, 'cardsys bench CA');
  issueCertificate(ca, server, { commonName: 'bench server', hosts: LOCAL_HOSTS });
  return {
    ca: ca.cert,
    serverConfig: `tls { cert_file: ${JSON.stringify(server.cert)}, key_file: ${JSON.stringify(server.key)}, timeout: 5 }`,
  };
}

/** Drives one store's edge in its worker thread (see pipeline-edge.ts). */
class EdgeWorker {
  private readonly worker: Worker;
  private readonly inbox: EdgeWorkerMessage[] = [];
  private failure: Error | undefined;
  private wake: (() => void) | undefined;
  confirmedSeq = 0;

  constructor(
    readonly data: EdgeWorkerData,
    progress: (message: string) => void,
  ) {
    this.worker = new Worker(workerSource(siblingModule('pipeline-edge', import.meta.url)), {
      eval: true,
      workerData: data,
    });
    this.worker.on('message', (message: EdgeWorkerMessage) => {
      if (message.kind === 'log') return progress(message.message);
      if (message.kind === 'progress') {
        this.confirmedSeq = message.confirmedSeq;
        return;
      }
      if (message.kind === 'confirmed') this.confirmedSeq = data.events;
      this.inbox.push(message);
      this.wake?.();
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`exited with code ${code}`)));
  }

  get storeId(): string {
    return this.data.storeId;
  }

  send(command: EdgeWorkerCommand): this {
    this.worker.postMessage(command);
    return this;
  }

  /** The worker's next message, which must be of this kind. */
  async next<K extends EdgeWorkerMessage['kind']>(kind: K): Promise<Extract<EdgeWorkerMessage, { kind: K }>> {
    while (this.inbox.length === 0) {
      if (this.failure) throw new Error(`edge worker ${this.storeId}, waiting for "${kind}": ${this.failure.message}`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const message = this.inbox.shift()!;
    if (message.kind !== kind) throw new Error(`edge worker ${this.storeId}: expected "${kind}", got "${message.kind}"`);
    return message as Extract<EdgeWorkerMessage, { kind: K }>;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake?.();
  }
}

/** Every event of a stopped edge's log, as the raw runs publish and insert them. */
async function readWholeLog(data: EdgeWorkerData, logger: Logger): Promise<{ storeId: string; entries: LogEntry[] }> {
  const log = await EventLog.open({
    dir: edgeLogDir(data.dataDir),
    storeId: data.storeId,
    readOnly: true,
    logger,
  });
  try {
    return { storeId: data.storeId, entries: log.read(1, data.events) };
  } finally {
    await log.close();
  }
}

/** Publishes every envelope as its own JetStream message (msgID = store:seq) and waits for every ack. */
export async function rawJetStreamPublish(
  nc: NatsConnection,
  stream: string,
  logs: Array<{ storeId: string; entries: Array<Pick<LogEntry, 'seq' | 'bytes'>> }>,
  window: number,
  progress: (message: string) => void,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: stream,
    subjects: [`${stream}.>`],
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
  const js = jetstream(nc);
  const total = logs.reduce((sum, log) => sum + log.entries.length, 0);
  progress(`raw JetStream: publishing the same ${total.toLocaleString('en')} envelopes one message each`);
  const started = performance.now();
  let outstanding = 0;
  let failure: Error | undefined;
  let roomFreed: (() => void) | undefined;
  const acked: Array<Promise<unknown>> = [];
  // Stores take turns, as two edges publishing side by side would.
  const longest = Math.max(...logs.map((log) => log.entries.length));
  for (let i = 0; i < longest; i++) {
    for (const { storeId, entries } of logs) {
      const entry = entries[i];
      if (!entry) continue;
      outstanding++;
      const ack = js
        .publish(`${stream}.${storeId}`, entry.bytes, {
          msgID: `${storeId}:${entry.seq}`,
        })
        .then(
          () => {
            outstanding--;
            roomFreed?.();
          },
          (error: Error) => {
            failure ??= error;
            outstanding--;
            roomFreed?.();
          },
        );
      acked.push(ack);
      while (outstanding >= window) await new Promise<void>((resolve) => (roomFreed = resolve));
      if (failure) throw new Error(`raw JetStream publish failed: ${failure.message}`);
    }
  }
  await Promise.all(acked);
  if (failure) throw new Error(`raw JetStream publish failed: ${(failure as Error).message}`);
  const elapsed = performance.now() - started;
  const info = await jsm.streams.info(stream);
  if (info.state.messages !== total)
    throw new Error(`raw JetStream: stream holds ${info.state.messages} messages, ${total} were published`);
  return elapsed;
}

/** A log entry as the host event store holds it. */
const recordOf = ({ envelope, bytes }: LogEntry): NewRecord => ({ id: envelope.eventId, type: envelope.eventType, data: bytes });

/** Inserts the same records into a fresh host event store, one stream per store, and closes it. */
async function rawInsert(
  name: string,
  store: EventStore,
  logs: Array<{ storeId: string; entries: LogEntry[] }>,
  progress: (message: string) => void,
): Promise<number> {
  try {
    progress(`raw ${name}: inserting the same rows in appends of ${RAW_ROWS_PER_APPEND}`);
    const started = performance.now();
    for (const { storeId, entries } of logs) {
      for (let i = 0; i < entries.length; i += RAW_ROWS_PER_APPEND) {
        const records = entries.slice(i, i + RAW_ROWS_PER_APPEND).map(recordOf);
        await store.appendToStream(originStreamName(storeId), records);
      }
    }
    return performance.now() - started;
  } finally {
    await store.close();
  }
}

/** The same insert into PostgreSQL, in a schema of its own that is dropped afterwards; a figure saying why when no server answers. */
async function rawPostgresInsert(
  logs: Array<{ storeId: string; entries: LogEntry[] }>,
  sqliteRowsPerSecond: number,
  progress: (message: string) => void,
): Promise<PipelineFigures['rawPostgres']> {
  const url = withoutPassword(PG_URL);
  const schema = `cardsys_bench_${randomBytes(6).toString('hex')}`;
  let store: PostgresEventStore;
  try {
    store = await PostgresEventStore.connect(PG_URL, { schema });
  } catch (error) {
    progress(`raw PostgreSQL: not measured: ${(error as Error).message}`);
    return { unavailable: (error as Error).message };
  }
  try {
    const ms = await rawInsert('PostgreSQL', store, logs, progress);
    const rows = logs.reduce((sum, log) => sum + log.entries.length, 0);
    const rowsPerSecond = perSecond(rows, ms);
    return {
      url,
      seconds: seconds(ms),
      rowsPerSecond,
      rowsPerAppend: RAW_ROWS_PER_APPEND,
      ratioToSqlite: Math.round((rowsPerSecond / sqliteRowsPerSecond) * 100) / 100,
    };
  } finally {
    await dropSchema(schema);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
}

/** The figure counts only if head office really holds every event of every store. */
async function assertAllStored(store: EventStore, storeIds: string[], eventsPerStore: number): Promise<void> {
  for (const storeId of storeIds) {
    const { lastSeq } = await readOriginTail(store, storeId);
    if (lastSeq !== eventsPerStore) throw new Error(`pipeline: head office holds store ${storeId} up to ${lastSeq}, not ${eventsPerStore}`);
  }
}

export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
