import { Option, type Command } from 'commander';
import { startHost } from '../../host/index.js';
import { headOfficeNatsOptions } from '../../host/provisioning/index.js';
import { say, withDataOption, withNatsOptions, type DataCliOptions, type NatsCliOptions } from '../options.js';
import { eventStoreChoice, hqDataDir, withEventStoreOptions, type EventStoreCliOptions } from './host-options.js';

type HostCliOptions = NatsCliOptions & DataCliOptions & EventStoreCliOptions & { http: string };

/** Parses "host:port" (IPv6 hosts in brackets); the message names the option. */
export function parseHttpAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`--http: expected <host:port> such as 127.0.0.1:8080, got "${text}"`);
  return { host: (match[1] ?? match[2])!, port };
}

/** `cardsys host`: runs head office (other `host …` subcommands hang off the same command). */
export function registerHostCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  withEventStoreOptions(withDataOption(withNatsOptions(host)))
    .description('run head office: ingest of store events, the host event store, read models and the query API')
    .addOption(new Option('--http <host:port>', 'where the query API listens').default('127.0.0.1:8080'))
    .addHelpText(
      'after',
      [
        '',
        'Head office keeps its files in <data>/hq/ (events.db, readmodels.db, keys/).',
        'Each part (ingest, responder, writer, snapshots, api) connects to NATS as its own principal with',
        '<data>/hq/keys/nats-<part>.nk when provisioned (--creds: one file for every part instead), over TLS',
        'verified with <data>/hq/tls/ca.pem when present (or --tls-ca).',
      ].join('\n'),
    )
    .action(async (options: HostCliOptions) => {
      const http = parseHttpAddress(options.http);
      const dataDir = hqDataDir(options.data);
      const stopRequested = new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      const node = await startHost({
        dataDir,
        natsUrl: options.nats,
        natsOptions: headOfficeNatsOptions(dataDir, { creds: options.creds, tlsCa: options.tlsCa }),
        http,
        eventStore: eventStoreChoice(options),
      });
      say(
        `head office running: data in ${dataDir}, NATS ${options.nats}, event store ${options.eventStore === 'sqlite' ? 'SQLite' : options.esdb}`,
      );
      say(`query API: ${node.url}  (OpenAPI docs: ${node.docsUrl}, health: ${node.url}/healthz)`);
      say(`stopping on ${await stopRequested}`);
      await node.stop();
    });
}
