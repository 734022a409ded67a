import type { Command } from 'commander';
import { z } from 'zod';
import {
  BENCH_NAMES,
  type BenchName,
  formatReport,
  isBenchName,
  PIPELINE_EVENT_STORES,
  type PipelineEventStore,
  runBenches,
  SCALING_STORES,
} from '../../bench/index.js';
import { answer, say } from '../output.js';

const BenchCliOptions = z.object({
  tls: z.boolean().default(false),
  only: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return undefined;
      const names = text
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name.length > 0);
      const unknown = names.filter((name) => !isBenchName(name));
      if (names.length === 0 || unknown.length > 0) {
        context.addIssue({
          code: 'custom',
          message: `--only: unknown benchmark ${unknown.map((name) => `"${name}"`).join(', ') || '(none given)'}; choose from ${BENCH_NAMES.join(', ')}`,
        });
        return z.NEVER;
      }
      return [...new Set(names)] as BenchName[];
    }),
  events: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return undefined;
      const events = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(events) || events < 1) {
        context.addIssue({
          code: 'custom',
          message: `--events: expected a whole number of events of at least 1, got "${text}"`,
        });
        return z.NEVER;
      }
      return events;
    }),
  stores: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return undefined;
      const counts = text.split(',').map((count) => count.trim());
      const bad = counts.filter((count) => !/^\d+$/.test(count) || Number(count) < 1 || !Number.isSafeInteger(Number(count)));
      if (bad.length > 0) {
        context.addIssue({
          code: 'custom',
          message: `--stores: expected comma-separated whole numbers of stores of at least 1 such as 2,200, got "${text}"`,
        });
        return z.NEVER;
      }
      return [...new Set(counts.map(Number))];
    }),
  pipelineEventStore: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return undefined;
      const chosen = text.split(',').map((store) => store.trim());
      const known = (store: string): store is PipelineEventStore => (PIPELINE_EVENT_STORES as readonly string[]).includes(store);
      if (!chosen.every(known)) {
        context.addIssue({
          code: 'custom',
          message: `--pipeline-event-store: expected ${PIPELINE_EVENT_STORES.join(', ')} or both comma-separated, got "${text}"`,
        });
        return z.NEVER;
      }
      return [...new Set(chosen)];
    }),
});

/** `cardsys bench`: every figure of the system from one run. */
export function registerBenchCommands(program: Command): void {
  program
    .command('bench')
    .description('run the benchmarks (each on its own fresh nats-server and temp files) and print their figures')
    .option('--json', 'one JSON object on stdout, progress on stderr')
    .option('--only <names>', `comma-separated benchmarks to run: ${BENCH_NAMES.join(', ')} (default: every one present)`)
    .option('--events <n>', 'events each store appends in the pipeline benchmark (default 50000)')
    .option(
      '--pipeline-event-store <sqlite|postgres|sqlite,postgres>',
      "head office's event store in the pipeline benchmark: sqlite (default) or PostgreSQL at PG_URL; both comma-separated run one after the other, each in a process of its own, in one run",
    )
    .option('--tls', "the pipeline benchmark's NATS links (edges, head office, the raw baseline) over TLS, as deployed")
    .option('--stores <counts>', `numbers of stores the scaling benchmark measures head office at (default ${SCALING_STORES.join(',')})`)
    .addHelpText(
      'after',
      '\nThe pipeline figure: events appended at two store edges until head office has committed them to its\n' +
        'event store and confirmed them back, beside raw JetStream async publish of the same envelopes one\n' +
        'message each, and their ratio. The scaling table: head office (`cardsys host`, its own process) at each\n' +
        'number of stores, the stores simulated in the bench process with their own credentials, the same events\n' +
        'in all: committed events/s, head office CPU per event and memory, StoreAck p99, start time. With --pipeline-event-store postgres head office commits to PostgreSQL\n' +
        '(PG_URL, default postgres://postgres@127.0.0.1:5432/test, a fresh schema dropped afterwards); with sqlite,postgres the pipeline\n' +
        "runs on each in turn and prints PostgreSQL's committed events/s against SQLite's.\n" +
        'Exit code is non-zero when a benchmark fails.',
    )
    .action(async (raw: unknown) => {
      const parsed = BenchCliOptions.safeParse(raw);
      if (!parsed.success) throw new Error(parsed.error.issues.map((issue) => issue.message).join('; '));
      const options = parsed.data;
      const { pipelineEventStore, ...rest } = options;
      const report = await runBenches({
        ...rest,
        ...(pipelineEventStore === undefined ? {} : { pipelineEventStores: pipelineEventStore }),
        progress: say,
      });
      answer(report, formatReport(report).trimEnd(), report.ok ? 0 : 1);
    });
}
