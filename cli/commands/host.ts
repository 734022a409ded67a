import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { describeEventStore, startHost } from '../../host/index.js';
import { natsConnectOptions } from '../../infra/nats/index.js';
import { headOfficeFiles } from '../../host/provisioning/index.js';
import { JAPAN_BUSINESS_DAY } from '../../domain/index.js';
import { say, withDataOption, withNatsOptions, type DataCliOptions, type NatsCliOptions } from '../options.js';
import { eventStoreChoice, hqDataDir, withEventStoreOptions, type EventStoreCliOptions } from './host-options.js';

type HostCliOptions = NatsCliOptions & DataCliOptions & EventStoreCliOptions & { http: string; businessDayCutoff: string };

/** Parses "host:port" (IPv6 hosts in brackets); the message names the option. */
export function parseHttpAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`--http: expected <host:port> such as 127.0.0.1:8080, got "${text}"`);
  return { host: (match[1] ?? match[2])!, port };
}

/** Parses the cut-off hour of store clearing's business day; the message names the option. */
function parseCutoffHour(text: string): number {
  const hour = /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(hour >= 0 && hour <= 23)) throw new Error(`--business-day-cutoff: expected an hour 0-23 (Japan time), got "${text}"`);
  return hour;
}

/** `cardsys host`: runs head office (other `host …` subcommands hang off the same command). */
export function registerHostCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  withEventStoreOptions(withDataOption(withNatsOptions(host)))
    .description('run head office: ingest of store events, the host event store, read models and the query API')
    .addOption(new Option('--http <host:port>', 'where the query API listens').default('127.0.0.1:8080'))
    .addOption(new Option('--business-day-cutoff <hour>', "hour (Japan time, 0-23) at which a store's business day ends for clearing").default('0'))
    .addHelpText(
      'after',
      '\nHead office keeps its files in <data>/hq/ (events.db with --event-store sqlite, readmodels.db, keys/).\n' +
        'NATS credentials: --creds, or <data>/hq/keys/hq.nk when provisioned.\n' +
        'Head office on PostgreSQL: --event-store postgres://cardsys@db.example:5432/cardsys (or CARDSYS_EVENT_STORE).',
    )
    .action(async (options: HostCliOptions) => {
      const http = parseHttpAddress(options.http);
      const businessDay = { ...JAPAN_BUSINESS_DAY, cutoffHour: parseCutoffHour(options.businessDayCutoff) };
      const dataDir = hqDataDir(options.data);
      const provisionedCreds = headOfficeFiles(dataDir).natsCreds;
      const creds = options.creds ?? (existsSync(provisionedCreds) ? provisionedCreds : undefined);
      const stopRequested = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const eventStore = eventStoreChoice(options);
      const node = await startHost({ dataDir, natsUrl: options.nats, natsOptions: natsConnectOptions(creds), http, eventStore, books: { businessDay } });
      say(`head office running: data in ${dataDir}, NATS ${options.nats}, event store ${describeEventStore(dataDir, eventStore)}`);
      say(`query API: ${node.url}  (OpenAPI docs: ${node.docsUrl}, health: ${node.url}/healthz)`);
      say(`stopping on ${await stopRequested}`);
      await node.stop();
    });
}
