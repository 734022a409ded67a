// Audit figures: replay-and-verify throughput over a large signed history in a SQLite host event
// store, beside a bare read of the same records from the same store in the same run, and their
// ratio. The history (default 1,000,000 store events, plus head office's debits and signed heads)
// is written straight into the event store file with valid chains, signatures and card MACs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawPublicKey } from '../contracts/index.js';
import { SqliteEventStore } from '../eventstore/index.js';
import { eventStoreSource, KeyRing, replayAndVerify, formatFinding } from '../audit/index.js';
import { writeSignedHistory } from './audit-history.js';
import { ratioGoal } from './goals.js';

export interface AuditBenchOptions {
  /** Store events in the history. */
  events?: number;
  /** Records read at a time, by both the bare read and the replay. */
  batchSize?: number;
  /** Measured rounds of each (bare read, replay, bare read, replay, …); the best of each counts. */
  rounds?: number;
  progress?: (message: string) => void;
}

interface Measured {
  seconds: number;
  /** CPU time of the process (all threads) per record, in microseconds: less sensitive to other load on the machine. */
  cpuMicrosPerRecord: number;
}

const DEFAULT_EVENTS = 1_000_000;

const cpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

async function measure(run: () => Promise<number>): Promise<Measured & { records: number }> {
  const cpuStart = cpuSeconds();
  const started = performance.now();
  const records = await run();
  const seconds = (performance.now() - started) / 1000;
  return { records, seconds, cpuMicrosPerRecord: ((cpuSeconds() - cpuStart) * 1e6) / records };
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export async function benchAudit(
  context: { progress?: (message: string) => void; auditEvents?: number } = {},
  options: AuditBenchOptions = {},
): Promise<object> {
  const progress = options.progress ?? context.progress ?? (() => undefined);
  const events = options.events ?? context.auditEvents ?? (Number(process.env.CARDSYS_AUDIT_BENCH_EVENTS) || DEFAULT_EVENTS);
  const batchSize = options.batchSize ?? 10_000;
  const rounds = options.rounds ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-bench-audit-'));
  try {
    progress(`writing a signed history of ${events.toLocaleString('en-US')} store events`);
    const generated = performance.now();
    const history = await writeSignedHistory({ file: join(dir, 'events.db'), events, batchSize: 1_000 });
    const generateSeconds = (performance.now() - generated) / 1000;
    const store = SqliteEventStore.open(history.file);
    try {
      const bare: Measured[] = [];
      const replays: (Measured & { events: number; findings: number })[] = [];
      for (let i = 0; i < rounds; i++) {
        progress(`round ${i + 1}: bare read`);
        bare.push(
          await measure(async () => {
            let records = 0;
            let bytes = 0;
            for await (const batch of eventStoreSource(store, { batchSize }).batches()) {
              for (const record of batch) bytes += record.data.length;
              records += batch.length;
            }
            if (bytes === 0) throw new Error('the bare read found no data');
            return records;
          }),
        );
        progress(`round ${i + 1}: replay and verify`);
        const keys = new KeyRing();
        keys.addHq(rawPublicKey(history.hqKey.publicKey));
        let result: Awaited<ReturnType<typeof replayAndVerify>> | undefined;
        const measured = await measure(async () => {
          result = await replayAndVerify({
            source: eventStoreSource(store, { batchSize }),
            keys,
            issuerKeys: history.issuerKeys,
            fromGenesis: true,
            // As `cardsys audit replay` runs it: the checks in a worker while this thread reads.
            inWorker: true,
          });
          return result.records;
        });
        if (!result!.ok)
          throw new Error(`the generated history should verify, but: ${result!.findings.slice(0, 3).map(formatFinding).join('; ')}`);
        replays.push({ ...measured, events: result!.events, findings: result!.findings.length });
      }
      const bestBare = bare.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const bestReplay = replays.reduce((a, b) => (b.seconds < a.seconds ? b : a));
      const records = history.records;
      return {
        storeEvents: events,
        records,
        generateSeconds: round(generateSeconds),
        bareRead: {
          seconds: round(bestBare.seconds, 3),
          recordsPerSecond: Math.round(records / bestBare.seconds),
          cpuMicrosPerRecord: round(bestBare.cpuMicrosPerRecord),
        },
        replayAndVerify: {
          seconds: round(bestReplay.seconds, 3),
          recordsPerSecond: Math.round(records / bestReplay.seconds),
          eventsPerSecond: Math.round(bestReplay.events / bestReplay.seconds),
          cpuMicrosPerRecord: round(bestReplay.cpuMicrosPerRecord),
          findings: bestReplay.findings,
        },
        cpuRatio: round(bestBare.cpuMicrosPerRecord / bestReplay.cpuMicrosPerRecord, 3),
        rounds,
        goals: { replayToBareRead: ratioGoal(bestBare.seconds, bestReplay.seconds, 0.5) },
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
