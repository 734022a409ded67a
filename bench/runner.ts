// `make bench`: runs every benchmark module that exists, in one run, and collects their figures.
// Each module `bench/<name>.ts` exports an async function `bench<Name>(context)` (or `run`, or a
// default export) that returns a plain object of figures.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CARDSYS_BIN, siblingModule } from '../infra/index.js';
import { goalsOf } from './goals.js';
import { benchPipeline, type PipelineEventStore, type PipelineFigures } from './pipeline.js';
import { benchScaling } from './scaling.js';

/** What every bench function is given. */
export interface BenchContext {
  /** Human progress for long steps (stderr). */
  progress: (message: string) => void;
  /** Events per store for the pipeline; undefined leaves each module its own default size. */
  events?: number;
  /** Head office's event stores the pipeline runs on, one after the other (default SQLite). */
  pipelineEventStores?: PipelineEventStore[];
  /** The pipeline's NATS links over TLS, as deployed. */
  tls?: boolean;
  /** The numbers of stores the scaling benchmark measures at; undefined: its own list. */
  stores?: number[];
}

export type Figures = object;
export type BenchFunction = (context: BenchContext) => Promise<Figures> | Figures;

/** Every benchmark, in the order a full run takes them. */
export const BENCH_NAMES = ['pipeline', 'scaling', 'card', 'purse', 'issuance', 'audit', 'api'] as const;
export type BenchName = (typeof BENCH_NAMES)[number];

export function isBenchName(name: string): name is BenchName {
  return (BENCH_NAMES as readonly string[]).includes(name);
}

export type BenchOutcome =
  | { status: 'ok'; seconds: number; figures: Figures }
  | { status: 'failed'; seconds: number; error: string }
  | { status: 'absent'; reason: string };

export interface BenchReport {
  startedAt: string;
  machine: { node: string; cpus: number; cpuModel: string; platform: string };
  results: Partial<Record<BenchName, BenchOutcome>>;
  /** True when no selected benchmark failed. */
  ok: boolean;
}

export interface RunBenchesOptions {
  /** Benchmarks to run; all that exist when omitted. A named one that does not exist is a failure. */
  only?: BenchName[];
  events?: number;
  pipelineEventStores?: PipelineEventStore[];
  tls?: boolean;
  stores?: number[];
  progress?: (message: string) => void;
}

const moduleUrl = (name: BenchName) => siblingModule(name, import.meta.url);

/** A module's bench function; undefined when its file does not exist. Throws when it exists but is unusable. */
async function loadBench(name: BenchName): Promise<BenchFunction | undefined> {
  if (name === 'pipeline')
    return (context) =>
      benchPipeline({
        eventsPerStore: context.events,
        eventStore: context.pipelineEventStores?.[0],
        tls: context.tls,
        progress: context.progress,
      });
  if (name === 'scaling') return (context) => benchScaling({ stores: context.stores, progress: context.progress });
  const url = moduleUrl(name);
  if (!existsSync(fileURLToPath(url))) return undefined;
  let module: Record<string, unknown>;
  try {
    module = (await import(url.href)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`bench/${name}.ts cannot be loaded: ${error instanceof Error ? error.message : String(error)}`);
  }
  const wanted = `bench${name[0]!.toUpperCase()}${name.slice(1)}`;
  const found = [wanted, 'run', 'default'].map((key) => module[key]).find((value) => typeof value === 'function');
  if (!found) throw new Error(`bench/${name}.ts exports no function named ${wanted}, run or default`);
  return found as BenchFunction;
}

/**
 * Runs one benchmark in a child `cardsys bench --only <name> --json`: each gets a fresh process, so
 * no benchmark measures in the wake of another's threads, heap or native add-ons.
 */
function runInChild(
  name: BenchName,
  options: Pick<RunBenchesOptions, 'events' | 'pipelineEventStores' | 'tls' | 'stores'>,
): Promise<BenchOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started) / 1000;
  const args = [
    CARDSYS_BIN,
    'bench',
    '--json',
    '--only',
    name,
    ...(options.events === undefined ? [] : ['--events', String(options.events)]),
    ...(options.pipelineEventStores === undefined ? [] : ['--pipeline-event-store', options.pipelineEventStores.join(',')]),
    ...(options.tls ? ['--tls'] : []),
    ...(options.stores === undefined ? [] : ['--stores', options.stores.join(',')]),
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.on('error', (error) =>
      resolve({
        status: 'failed',
        seconds: elapsed(),
        error: `cannot run the ${name} benchmark: ${error.message}`,
      }),
    );
    child.on('close', (code, signal) => {
      const outcome = (() => {
        try {
          return (JSON.parse(stdout) as BenchReport).results[name];
        } catch {
          return undefined;
        }
      })();
      resolve(
        outcome ?? {
          status: 'failed',
          seconds: elapsed(),
          error: `the ${name} benchmark process ended (${signal ?? `exit code ${code}`}) without a report`,
        },
      );
    });
  });
}

/**
 * The pipeline on each event store in turn, each in a child of its own, in this one run (on a
 * shared machine two separate runs would each meet another moment's load), and each one's
 * committed events/s against the first's.
 */
async function comparePipelines(stores: readonly PipelineEventStore[], options: RunBenchesOptions): Promise<BenchOutcome> {
  const started = performance.now();
  const runs: Partial<Record<PipelineEventStore, PipelineFigures>> = {};
  for (const store of stores) {
    options.progress?.(`pipeline on ${store}`);
    const outcome = await runInChild('pipeline', { ...options, pipelineEventStores: [store] });
    if (outcome.status === 'failed') return { ...outcome, error: `on ${store}: ${outcome.error}` };
    if (outcome.status === 'absent') return outcome;
    runs[store] = outcome.figures as PipelineFigures;
  }
  const first = runs[stores[0]!]!.committed.eventsPerSecond;
  const committedAgainstFirst = Object.fromEntries(
    stores.map((store) => [store, Math.round((runs[store]!.committed.eventsPerSecond / first) * 100) / 100]),
  );
  return { status: 'ok', seconds: Math.round(performance.now() - started) / 1000, figures: { runs, committedAgainstFirst } };
}

export async function runBenches(options: RunBenchesOptions = {}): Promise<BenchReport> {
  const progress = options.progress ?? (() => undefined);
  const selected = options.only ?? [...BENCH_NAMES];
  const report: BenchReport = {
    startedAt: new Date().toISOString(),
    machine: {
      node: process.version,
      cpus: availableParallelism(),
      cpuModel: cpus()[0]?.model ?? 'unknown',
      platform: `${process.platform}-${process.arch}`,
    },
    results: {},
    ok: true,
  };
  const comparing = (options.pipelineEventStores?.length ?? 0) > 1;
  if (selected.length > 1 || comparing) {
    for (const name of selected) {
      const outcome =
        name === 'pipeline' && comparing ? await comparePipelines(options.pipelineEventStores!, options) : await runInChild(name, options);
      report.results[name] = outcome;
      if (outcome.status === 'failed' || (outcome.status === 'absent' && options.only)) report.ok = false;
    }
    return report;
  }
  for (const name of selected) {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started) / 1000;
    const fail = (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      report.ok = false;
      report.results[name] = {
        status: 'failed',
        seconds: elapsed(),
        error: message,
      };
      progress(`${name}: FAILED: ${message}`);
    };
    let bench: BenchFunction | undefined;
    try {
      bench = await loadBench(name);
    } catch (error) {
      fail(error);
      continue;
    }
    if (!bench) {
      const reason = `bench/${name}.ts does not exist`;
      report.results[name] = { status: 'absent', reason };
      progress(`${name}: skipped, ${reason}`);
      // Asked for by name: its absence is a failure, not a skip.
      if (options.only) report.ok = false;
      continue;
    }
    progress(`${name}: running`);
    try {
      const figures = await bench({
        progress: (message) => progress(`  ${message}`),
        ...(options.events === undefined ? {} : { events: options.events }),
        ...(options.pipelineEventStores === undefined ? {} : { pipelineEventStores: options.pipelineEventStores }),
        ...(options.tls ? { tls: true } : {}),
        ...(options.stores === undefined ? {} : { stores: options.stores }),
      });
      report.results[name] = { status: 'ok', seconds: elapsed(), figures };
      progress(`${name}: done in ${elapsed()} s`);
    } catch (error) {
      fail(error);
    }
  }
  return report;
}

/** The report as a readable table: one line per figure, nested figures under dotted names. */
export function formatReport(report: BenchReport): string {
  const lines = [`cardsys bench — ${report.startedAt}, Node ${report.machine.node}, ${report.machine.cpus} × ${report.machine.cpuModel}`];
  for (const [name, outcome] of Object.entries(report.results)) {
    lines.push('');
    if (outcome.status === 'absent') {
      lines.push(`${name}: skipped (${outcome.reason})`);
      continue;
    }
    if (outcome.status === 'failed') {
      lines.push(`${name}: FAILED after ${outcome.seconds} s: ${outcome.error}`);
      continue;
    }
    lines.push(`${name} (${outcome.seconds} s)`);
    const rows = flatten(outcome.figures);
    const width = Math.max(...rows.map(([key]) => key.length));
    for (const [key, value] of rows) lines.push(`  ${key.padEnd(width)}  ${value}`);
  }
  const goals = Object.entries(report.results).flatMap(([name, outcome]) =>
    outcome.status === 'ok' ? goalsOf(outcome.figures).map(([goalName, goal]) => [`${name}.${goalName}`, goal] as const) : [],
  );
  if (goals.length > 0) {
    lines.push('', 'goals (each figure, and what a ratio is measured against, from this run)');
    const width = Math.max(...goals.map(([name]) => name.length));
    for (const [name, { value, limit, met, notMeasured }] of goals)
      lines.push(
        notMeasured === undefined
          ? `  ${name.padEnd(width)}  ${formatValue(value).padStart(6)} ${limit}  ${met ? 'met' : 'NOT MET'}`
          : `  ${name.padEnd(width)}  ${'—'.padStart(6)} ${limit}  NOT MEASURED: ${notMeasured}`,
      );
  }
  return `${lines.join('\n')}\n`;
}

function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (isTable(value)) return [[prefix || 'value', formatTable(value)]];
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix || 'value', formatValue(value)]];
}

type Row = Record<string, unknown>;

/** A list of flat records (a figure per column, e.g. one row per number of stores) prints as a table. */
function isTable(value: unknown): value is Row[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (row) =>
        row !== null && typeof row === 'object' && !Array.isArray(row) && Object.values(row).every((cell) => typeof cell !== 'object'),
    )
  );
}

function formatTable(rows: Row[]): string {
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = [columns, ...rows.map((row) => columns.map((column) => (column in row ? formatValue(row[column]) : '')))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => line[index]!.length)));
  return cells.map((line) => `\n    ${line.map((cell, index) => cell.padStart(widths[index]!)).join('  ')}`).join('');
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return value.toLocaleString('en');
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(formatValue).join(', ');
  return JSON.stringify(value);
}
