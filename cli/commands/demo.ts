import { InvalidArgumentError, Option, type Command } from 'commander';
import { type DayPart, DEMO_CLUSTER_EVENT_STORE, DemoStepError, runDemo, SKIPPABLE_PARTS } from '../../demo/index.js';
import { postgresTarget } from '../../eventstore/index.js';
import { stopSignal } from '../options.js';
import { answer, say } from '../output.js';
import { parseHttpAddress } from './host.js';

interface DemoCliOptions {
  data: string;
  http: string;
  keepRunning?: boolean;
  cluster?: boolean;
  eventStore?: string;
  skip?: DayPart[];
}

/** `--skip offline,failover`: the parts of the day to leave out, each one the demo knows. */
function parseParts(text: string): DayPart[] {
  const parts = text.split(',').map((part) => part.trim());
  const unknown = parts.filter((part) => !Object.hasOwn(SKIPPABLE_PARTS, part));
  if (unknown.length > 0)
    throw new InvalidArgumentError(
      `no part of the day is called ${unknown.join(', ')}; the parts: ${Object.keys(SKIPPABLE_PARTS).join(', ')}`,
    );
  return parts as DayPart[];
}

/** `cardsys demo`: a day at the counter with head office, stores A and B and a virtual card. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run NATS, head office and stores A and B as processes on embedded defaults, and walk a card through a day: ' +
        'application, primary issuance, secondary issuance at store A, load, pay, store A offline and back; ' +
        'with --cluster also a hub node and the writing head-office instance killed, and what takes over',
    )
    .addOption(
      new Option('--data <dir>', 'where the demo keeps its files and logs (an earlier demo there is wiped)').default('./data/demo'),
    )
    .addOption(new Option('--http <host:port>', "where head office's query API listens").default('127.0.0.1:8080'))
    .option('--keep-running', 'leave everything running after the walk-through, until Ctrl-C')
    .option(
      '--cluster',
      "run the day on head office past one machine: the hub as a 3-node JetStream cluster, each store's broker a leaf of every node, " +
        'and two head-office instances on one PostgreSQL event store (one writes, the other follows)',
    )
    .option(
      '--event-store <postgres://…>',
      `with --cluster: the PostgreSQL database and schema both instances share; a schema an earlier demo made is dropped first, ` +
        `one the demo did not make is refused (default: ${DEMO_CLUSTER_EVENT_STORE})`,
    )
    .option(
      '--skip <parts>',
      `leave parts of the day out, comma-separated: ${Object.entries(SKIPPABLE_PARTS)
        .map(([part, what]) => `${part} (${what})`)
        .join('; ')}`,
      parseParts,
    )
    .addHelpText(
      'after',
      '\nNeeds nats-server and pcscd with the vpcd readers (make demo installs and starts them); --cluster needs PostgreSQL too.\n' +
        'Each process logs to <data>/logs/<name>.log; a failing step names the log to read.',
    )
    .action(async (options: DemoCliOptions) => {
      parseHttpAddress(options.http);
      if (options.eventStore !== undefined && !options.cluster)
        throw new Error('--event-store goes with --cluster (the demo on one machine uses SQLite)');
      const eventStore = options.eventStore ?? DEMO_CLUSTER_EVENT_STORE;
      if (options.cluster) postgresTarget(eventStore);
      try {
        const summary = await runDemo({
          dataDir: options.data,
          http: options.http,
          keepRunning: options.keepRunning ?? false,
          stopSignal: stopSignal(),
          ...(options.cluster ? { cluster: { eventStore } } : {}),
          ...(options.skip ? { skip: options.skip } : {}),
        });
        say('\ndemo finished: every process stopped');
        answer(summary);
      } catch (error) {
        if (!(error instanceof DemoStepError)) throw error;
        say(`\ndemo stopped: ${error.message}`);
        answer({ error: error.message }, [], 1);
      }
    });
}
