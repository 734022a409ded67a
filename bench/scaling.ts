// The scaling figure: head office alone, at N stores. For each N a fresh deployment as provisioning
// makes it (the hub's configuration with one account per store, TLS, head office's parts on their
// own credentials; N stores in head office's directory, each with its own keys and NATS user), the
// real `cardsys host` in a process of its own, and the store simulator standing in for the N stores'
// edges. The same events in all at every N, in batches of the same size, so that what differs is the
// number of stores: committed events/s, head office's resident memory, its CPU per event (the
// process's CPU time over the run, from /proc), StoreAck latency, how long head office takes to
// start (first healthy /healthz) and to answer every store, and its CPU while the stores only
// send their heartbeats. Beside them, raw JetStream publish of the same envelopes one message each.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { generateSealingKey, generateSigningKey } from '../contracts/index.js';
import { headOfficeFiles, storeRecordOf, writeHubNatsConfig, writeStoreRecord } from '../host/provisioning/index.js';
import { CARDSYS_BIN, freePort } from '../infra/index.js';
import { createCredentials, natsConnectOptions, natsTlsOptions, snapshotsStreamLastSeq, startNatsServer } from '../infra/nats/index.js';
import type { Goal } from './goals.js';
import { definedOnly, rawJetStreamPublish } from './pipeline.js';
import { type SimulatedStore, type SimulationFigures, StoreSimulator } from './store-simulator.js';

export interface ScalingBenchOptions {
  /** The numbers of stores to measure at, each in its own deployment. */
  stores?: number[];
  /** Events in all at every N. */
  events?: number;
  /** Events per batch. */
  batchEvents?: number;
  /** Batches unconfirmed at most across all stores: the same load on head office at every N. */
  inFlightBatches?: number;
  /** How long head office's CPU is watched while the stores only send heartbeats (the quietest 2 s count). */
  idleMs?: number;
  /** Raw JetStream publish: most acks awaited at once. */
  publishWindow?: number;
  /** Node options for head office's process, e.g. ["--cpu-prof", "--cpu-prof-dir=<dir>"] to profile it. */
  headOfficeNodeOptions?: string[];
  progress?: (message: string) => void;
}

/** One N's figures: a row of the scaling table. */
export interface ScalingRow {
  stores: number;
  /** nats-server started with the N stores' accounts. */
  hubStartSeconds: number;
  /** From spawning `cardsys host` to its first healthy /healthz. */
  headOfficeStartSeconds: number;
  /** The start's limit beside it, and whether this N kept it. */
  headOfficeStartGoal: string;
  /** From spawning `cardsys host` (the stores connected already) until every store's sync request was answered. */
  answeringAllSeconds: number;
  /**
   * Head office's CPU while the N stores only send heartbeats (one sync request each per 2 s), % of
   * one core: the quietest 2 s of the watch, after the work that follows a start (sealing and
   * publishing every store's issuance snapshot) is done.
   */
  idleCpuPercent: number;
  committedEventsPerSecond: number;
  /** Head office's CPU time over the run per event committed. */
  ingestCpuUsPerEvent: number;
  /** Head office's peak resident memory over the run. */
  headOfficeRssMiB: number;
  /** The hub's resident memory after the run (its accounts, the events stream, the snapshot stream). */
  hubRssMiB: number;
  storeAckP50Ms: number;
  storeAckP99Ms: number;
  seconds: number;
}

export interface ScalingFigures {
  events: number;
  batchEvents: number;
  inFlightBatches: number;
  /** One row per N. */
  table: ScalingRow[];
  /** The same envelopes (those of the first N), one JetStream message each with a msgID, on a plain nats-server. */
  rawJetStream: { messagesPerSecond: number; seconds: number };
  /** Each goal beside its limit, from this run; a goal whose N was not measured is left out. */
  goals: Record<string, Goal>;
}

export const SCALING_STORES = [2, 20, 200, 1000, 5000];
const DEFAULTS = {
  stores: SCALING_STORES,
  events: 100_000,
  batchEvents: 20,
  inFlightBatches: 16,
  idleMs: 6000,
  publishWindow: 2000,
  headOfficeNodeOptions: [] as string[],
};
const MiB = 1024 * 1024;

export async function benchScaling(options: ScalingBenchOptions = {}): Promise<ScalingFigures> {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const progress = options.progress ?? (() => undefined);
  const { table, envelopes } = await measureScaling(options);
  const rawJetStream = await rawPublish(envelopes, settings.publishWindow, progress);
  return {
    events: settings.events,
    batchEvents: settings.batchEvents,
    inFlightBatches: settings.inFlightBatches,
    table,
    rawJetStream,
    goals: goalsOf(table),
  };
}

/** The scaling table alone, a deployment for each N in turn; and the envelopes the first N's stores sent. */
export async function measureScaling(options: ScalingBenchOptions = {}): Promise<{ table: ScalingRow[]; envelopes: SimulatedEnvelopes }> {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const progress = options.progress ?? (() => undefined);
  const table: ScalingRow[] = [];
  let envelopes: SimulatedEnvelopes | undefined;
  for (const stores of settings.stores) {
    const measured = await measureAt(stores, settings, progress);
    table.push(measured.row);
    envelopes ??= measured.envelopes;
  }
  return { table, envelopes: envelopes ?? [] };
}

type SimulatedEnvelopes = SimulationFigures['envelopes'];

function goalsOf(table: ScalingRow[]): ScalingFigures['goals'] {
  const at = (stores: number) => table.find((row) => row.stores === stores);
  const goals: ScalingFigures['goals'] = {};
  const two = at(2);
  const thousand = at(1000);
  const fiveThousand = at(5000);
  if (two && thousand) {
    const ratio = Math.round((thousand.committedEventsPerSecond / two.committedEventsPerSecond) * 100) / 100;
    goals.throughput1000vs2 = { value: ratio, limit: '≥ 0.8', met: ratio >= 0.8 };
  }
  if (thousand) goals.headOfficeRssMiBAt1000 = { value: thousand.headOfficeRssMiB, limit: '< 1024', met: thousand.headOfficeRssMiB < 1024 };
  if (fiveThousand) goals.headOfficeStartSecondsAt5000 = startGoal(fiveThousand.headOfficeStartSeconds);
  return goals;
}

/** Head office's first healthy /healthz after its start, in seconds: the goal at 5,000 stores, shown at every N. */
const HEAD_OFFICE_START_LIMIT_SECONDS = 10;

function startGoal(seconds: number): Goal {
  return { value: seconds, limit: `< ${HEAD_OFFICE_START_LIMIT_SECONDS}`, met: seconds < HEAD_OFFICE_START_LIMIT_SECONDS };
}

/** N stores in head office's directory, each with its own signing, sealing and NATS keys; the secrets stay with the simulator. */
function provisionSimulatedStores(hqDataDir: string, count: number): SimulatedStore[] {
  const width = String(count).length;
  return Array.from({ length: count }, (_, i) => {
    const storeId = `s${String(i + 1).padStart(width, '0')}`;
    const signingKey = generateSigningKey();
    const nats = createCredentials({ role: 'store', storeId });
    const record = storeRecordOf(
      { storeId, name: `Simulated store ${storeId}`, nearbyStoreIds: [] },
      { signingKey, sealingKey: generateSealingKey(), natsPublicKey: nats.publicKey },
      [],
    );
    writeStoreRecord(hqDataDir, record);
    return { storeId, signingKey, natsSeed: nats.seed };
  });
}

async function measureAt(stores: number, settings: typeof DEFAULTS, progress: (message: string) => void) {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-bench-scaling-'));
  const hqDataDir = join(root, 'hq');
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    progress(`scaling: provisioning ${stores.toLocaleString('en')} stores`);
    const simulated = provisionSimulatedStores(hqDataDir, stores);
    const hubDir = join(root, 'nats');
    const port = await freePort();
    const hubConfig = writeHubNatsConfig(hqDataDir, {
      listen: `127.0.0.1:${port}`,
      jetstreamDir: join(hubDir, 'jetstream'),
      out: join(hubDir, 'nats-server.conf'),
    });
    let started = performance.now();
    const hub = await startNatsServer({ dataDir: hubDir, port, configFile: hubConfig.file });
    cleanups.unshift(() => hub.stop());
    const hubStartSeconds = secondsSince(started);

    // The stores are up (connected, asking for head office every heartbeat) when head office starts.
    const simulator = await StoreSimulator.connect({
      natsUrl: hub.url,
      tlsCa: headOfficeFiles(hqDataDir).tlsCa.cert,
      stores: simulated,
    });
    cleanups.unshift(() => simulator.close());

    const httpPort = await freePort();
    const logFile = join(root, 'host.log');
    started = performance.now();
    const host = spawnHeadOffice(root, httpPort, logFile, settings.headOfficeNodeOptions);
    cleanups.unshift(() => stopProcess(host));
    await untilHealthy(host, `http://127.0.0.1:${httpPort}/healthz`, logFile);
    const headOfficeStartSeconds = secondsSince(started);
    progress(`scaling: ${stores} stores: head office healthy after ${headOfficeStartSeconds} s`);
    await simulator.untilAllAnswered(120_000);
    const answeringAllSeconds = secondsSince(started);
    await untilSnapshotsPublished(hub.url, hqDataDir, stores, progress);

    const idleCpuPercent = await quietestCpuPercent(host.pid!, settings.idleMs);

    progress(`scaling: ${stores} stores send ${settings.events.toLocaleString('en')} events in batches of ${settings.batchEvents}`);
    let peakRss = rssBytesOf(host.pid!);
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssBytesOf(host.pid!))), 200);
    const cpuBefore = cpuSecondsOf(host.pid!);
    const run = await simulator
      .run({ events: settings.events, batchEvents: settings.batchEvents, inFlight: settings.inFlightBatches })
      .finally(() => clearInterval(sampler));
    const cpu = cpuSecondsOf(host.pid!) - cpuBefore;
    const row: ScalingRow = {
      stores,
      hubStartSeconds,
      headOfficeStartSeconds,
      headOfficeStartGoal: ((goal) => `${goal.limit} s: ${goal.met ? 'met' : 'NOT MET'}`)(startGoal(headOfficeStartSeconds)),
      answeringAllSeconds,
      idleCpuPercent,
      committedEventsPerSecond: run.eventsPerSecond,
      ingestCpuUsPerEvent: Math.round((cpu * 1e6) / settings.events),
      headOfficeRssMiB: Math.round(Math.max(peakRss, rssBytesOf(host.pid!)) / MiB),
      hubRssMiB: Math.round(rssBytesOf(Number(readFileSync(headOfficeFiles(hqDataDir).hubPidFile, 'utf8').trim())) / MiB),
      storeAckP50Ms: run.storeAckMs.p50,
      storeAckP99Ms: run.storeAckMs.p99,
      seconds: run.seconds,
    };
    progress(
      `scaling: ${stores} stores: ${row.committedEventsPerSecond.toLocaleString('en')} events/s, ${row.ingestCpuUsPerEvent} µs CPU per event, ` +
        `head office ${row.headOfficeRssMiB} MiB, StoreAck p99 ${row.storeAckP99Ms} ms`,
    );
    return { row, envelopes: run.envelopes };
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

/** The real `cardsys host` on the deployment's data folder, its log in `logFile`. */
function spawnHeadOffice(dataDir: string, httpPort: number, logFile: string, nodeOptions: string[]): ChildProcess {
  const log = openSync(logFile, 'a');
  try {
    return spawn(process.execPath, [...nodeOptions, CARDSYS_BIN, 'host', '--data', dataDir, '--http', `127.0.0.1:${httpPort}`], {
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
}

async function untilHealthy(host: ChildProcess, url: string, logFile: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (host.exitCode !== null) throw new Error(`cardsys host exited (${host.exitCode}): ${tail(logFile)}`);
    const healthy = await fetch(url).then(
      (response) => response.ok,
      () => false,
    );
    if (healthy) return;
    if (Date.now() > deadline) throw new Error(`cardsys host not healthy after ${timeoutMs / 1000} s: ${tail(logFile)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const tail = (file: string) => readFileSync(file, 'utf8').split('\n').slice(-15).join('\n');

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(killer);
}

/**
 * Waits until head office has published every store's first issuance snapshot (a seal each, what
 * follows a start), read on the hub with head office's snapshot credentials: the stream holds at
 * least a message per store and has stopped growing.
 */
async function untilSnapshotsPublished(hubUrl: string, hqDataDir: string, stores: number, progress: (message: string) => void) {
  const files = headOfficeFiles(hqDataDir);
  const nc = await connect({ servers: hubUrl, ...natsConnectOptions(files.natsCreds.snapshots), ...natsTlsOptions(files.tlsCa.cert) });
  try {
    const jsm = await jetstreamManager(nc);
    const deadline = Date.now() + 300_000;
    let last = -1;
    let steadySince = Date.now();
    for (;;) {
      const seq = await snapshotsStreamLastSeq(jsm).catch(() => 0);
      if (seq !== last) {
        last = seq;
        steadySince = Date.now();
      } else if (seq >= stores && Date.now() - steadySince >= 2000) break;
      if (Date.now() > deadline) throw new Error(`head office published ${seq} snapshot messages for ${stores} stores in 300 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    progress(`scaling: ${stores} stores: every store's first snapshot published (${last.toLocaleString('en')} messages)`);
  } finally {
    await nc.close();
  }
}

/** The process's lowest CPU use, % of one core, over slices of at most 2 s during `ms`. */
async function quietestCpuPercent(pid: number, ms: number): Promise<number> {
  const slice = Math.min(2000, ms);
  let lowest = Number.POSITIVE_INFINITY;
  for (let watched = 0; watched + slice <= ms; watched += slice) {
    const before = cpuSecondsOf(pid);
    await new Promise((resolve) => setTimeout(resolve, slice));
    lowest = Math.min(lowest, ((cpuSecondsOf(pid) - before) * 1000) / slice);
  }
  return Math.round(lowest * 1000) / 10;
}

/** The process's user and system CPU time so far (Linux /proc). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Linux's USER_HZ, what /proc counts CPU time in. */
const CLOCK_TICKS_PER_SECOND = 100;

function rssBytesOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) * 1024 : 0;
}

const secondsSince = (started: number) => Math.round(performance.now() - started) / 1000;

/** Raw JetStream publish of the same envelopes on a plain nats-server of its own. */
async function rawPublish(
  envelopes: SimulatedEnvelopes,
  window: number,
  progress: (message: string) => void,
): Promise<ScalingFigures['rawJetStream']> {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-bench-scaling-raw-'));
  try {
    mkdirSync(dir, { recursive: true });
    const nats = await startNatsServer({ dataDir: dir });
    try {
      const nc = await connect({ servers: nats.url });
      try {
        const ms = await rawJetStreamPublish(nc, 'BENCH_RAW', envelopes, window, progress);
        const total = envelopes.reduce((sum, log) => sum + log.entries.length, 0);
        return { messagesPerSecond: Math.round((total * 1000) / ms), seconds: Math.round(ms) / 1000 };
      } finally {
        await nc.close();
      }
    } finally {
      await nats.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
