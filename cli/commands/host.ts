import { resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { type ApiAccessConfig, DEFAULT_WRITE_RATE_LIMIT, parseWriteRateLimit } from '../../host/api/index.js';
import { describeEventStore, startHost } from '../../host/index.js';
import { pcscIssuanceStation } from '../../host/issuance/index.js';
import { headOfficeClientSettings } from '../../host/provisioning/index.js';
import {
  type DataCliOptions,
  type LogCliOptions,
  loggerOf,
  type NatsCliOptions,
  stopSignal,
  withDataOption,
  withLogOptions,
  withNatsOptions,
} from '../options.js';
import { answer, say } from '../output.js';
import { type EventStoreCliOptions, eventStoreChoice, hqDataDir, withEventStoreOptions } from './host-options.js';
import { DEFAULT_LOAD_LIMITS, DEFAULT_REFUND_RULES, JAPAN_BUSINESS_DAY } from '../../domain/index.js';

interface ApiCliOptions {
  oidcIssuer?: string;
  oidcJwks?: string;
  oidcAudience?: string;
  oidcRolesClaim: string;
  writeRateLimit: string;
  issuanceReader?: string;
  issuanceStripe?: string;
}

type HostCliOptions = NatsCliOptions &
  DataCliOptions &
  LogCliOptions &
  EventStoreCliOptions &
  ApiCliOptions & {
    http: string;
    advertise?: string;
    businessDayCutoff: string;
    balanceCap: string;
    dailyLoadLimit: string;
    refundWindowDays: string;
    natsWait: string;
  };

/** Which tokens the API accepts: all three OIDC options, or none of them (head office's own tokens). */
function apiAccessConfig(options: ApiCliOptions): ApiAccessConfig {
  const oidc = {
    issuer: options.oidcIssuer,
    jwksUrl: options.oidcJwks,
    audience: options.oidcAudience,
  };
  const given = Object.entries({
    '--oidc-issuer': oidc.issuer,
    '--oidc-jwks': oidc.jwksUrl,
    '--oidc-audience': oidc.audience,
  });
  const missing = given.filter(([, value]) => !value).map(([name]) => name);
  if (missing.length > 0 && missing.length < given.length)
    throw new Error(`an OIDC issuer needs --oidc-issuer, --oidc-jwks and --oidc-audience; missing ${missing.join(', ')}`);
  const writeRateLimit = parseWriteRateLimit(options.writeRateLimit);
  if (missing.length > 0) return { writeRateLimit };
  return {
    writeRateLimit,
    oidc: {
      issuer: oidc.issuer!,
      jwksUrl: oidc.jwksUrl!,
      audience: oidc.audience!,
      rolesClaim: options.oidcRolesClaim,
    },
  };
}

function issuanceStation(options: ApiCliOptions) {
  if (!options.issuanceReader && !options.issuanceStripe) return undefined;
  if (!options.issuanceReader || !options.issuanceStripe)
    throw new Error('primary issuance needs both --issuance-reader and --issuance-stripe');
  return pcscIssuanceStation(options.issuanceReader, options.issuanceStripe);
}

/** Parses "host:port" (IPv6 hosts in brackets); the message names the option. */
export function parseHttpAddress(text: string, option = '--http'): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`${option}: expected <host:port> such as 127.0.0.1:8080, got "${text}"`);
  return { host: (match[1] ?? match[2])!, port };
}

function parseAdvertiseUrl(text: string): string {
  if (!/^https?:\/\/[^/\s]+$/.test(text))
    throw new Error(`--advertise: expected http(s)://host[:port] such as http://hq1.example:8080, got "${text}"`);
  return text;
}

function parseSeconds(option: string, text: string): number {
  const seconds = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(seconds)) throw new Error(`${option}: expected whole seconds, got "${text}"`);
  return seconds;
}

/** Parses the cut-off hour of store clearing's business day; the message names the option. */
function parseCutoffHour(text: string): number {
  const hour = /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN;
  if (!(hour >= 0 && hour <= 23)) throw new Error(`--business-day-cutoff: expected an hour 0-23 (Japan time), got "${text}"`);
  return hour;
}

/** Parses a yen amount of a limit option; the message names the option. */
function parseLimitYen(text: string, option: string): number {
  const amount = /^\d{1,9}$/.test(text) ? Number(text) : Number.NaN;
  if (!(amount > 0)) throw new Error(`${option}: expected a whole number of yen above 0, such as 50000, got "${text}"`);
  return amount;
}

function parseRefundWindowDays(text: string): number {
  if (!/^\d{1,3}$/.test(text))
    throw new Error(`--refund-window-days: expected a whole number of days from 0 to 999, such as 7, got "${text}"`);
  return Number(text);
}

/** `cardsys host`: runs head office (other `host …` subcommands hang off the same command). */
export function registerHostCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  withLogOptions(withEventStoreOptions(withDataOption(withNatsOptions(host))))
    .description('run head office: ingest of store events, the host event store, read models and the query API')
    .addOption(new Option('--http <host:port>', 'where the query API listens').default('127.0.0.1:8080'))
    .option('--oidc-issuer <url>', "accept the bearer tokens of this OIDC issuer (its `iss`) instead of head office's own")
    .option('--oidc-jwks <url>', 'where that issuer publishes its signing keys (JWKS)')
    .option('--oidc-audience <aud>', 'the audience (`aud`) its tokens for this API carry')
    .addOption(new Option('--oidc-roles-claim <claim>', "the claim of the issuer's tokens that lists the caller's roles").default('roles'))
    .addOption(
      new Option('--write-rate-limit <writes/window>', 'writes each caller may make per window, e.g. 120/1m or 10/30s').default(
        `${DEFAULT_WRITE_RATE_LIMIT.max}/${DEFAULT_WRITE_RATE_LIMIT.windowMs / 60_000}m`,
      ),
    )
    .option('--issuance-reader <name>', 'the PC/SC reader primary issuance initialises blank cards in, e.g. "Virtual PCD 00 00"')
    .option('--issuance-stripe <encoder>', "the stripe encoder beside it: vcard:<card state file> (a virtual card's stripe)")
    .addOption(
      new Option(
        '--advertise <url>',
        "the API's address for clients, as the other instances name this one when it writes (default: the --http address)",
      ).env('CARDSYS_ADVERTISE_URL'),
    )
    .addOption(
      new Option(
        '--nats-wait <seconds>',
        'how long to keep trying at start while NATS cannot be reached (a hub starting beside it)',
      ).default('30'),
    )
    .addOption(
      new Option('--business-day-cutoff <hour>', "hour (Japan time, 0-23) at which a store's business day ends for clearing").default('0'),
    )
    .addOption(
      new Option('--balance-cap <yen>', 'most a card may hold after a load; loads over it are declined (balance_cap)').default(
        String(DEFAULT_LOAD_LIMITS.balanceCap),
      ),
    )
    .addOption(
      new Option(
        '--daily-load-limit <yen>',
        'most that may be loaded onto one card per business day (see --business-day-cutoff); more is declined (daily_limit)',
      ).default(String(DEFAULT_LOAD_LIMITS.dailyLoadLimit)),
    )
    .addOption(
      new Option(
        '--refund-window-days <days>',
        'business days after a pay that it may still be refunded at its store; 0: the same business day only',
      ).default(String(DEFAULT_REFUND_RULES.windowDays)),
    )
    .addHelpText(
      'after',
      [
        '',
        'Head office keeps its files in <data>/hq/ (events.db, readmodels.db, keys/); one head office at a time per',
        'data folder (<data>/hq/host.lock).',
        'NATS: --nats, or the hub\'s address "cardsys host nats-config" recorded in <data>/hq/hub.json.',
        'Each part (ingest, responder, writer, snapshots, api) connects to NATS as its own principal with',
        '<data>/hq/keys/nats-<part>.nk when provisioned (--creds: one file for every part instead), over TLS',
        'verified with <data>/hq/tls/ca.pem when present (or --tls-ca).',
        'Stores provisioned while it runs are registered within seconds (it watches <data>/hq/directory/stores).',
        'With --json: one JSON object on stdout once it serves (role, api, docs, openapi, nats).',
        'Head office on PostgreSQL: --event-store postgres://cardsys@db.example:5432/cardsys (or CARDSYS_EVENT_STORE).',
        'Two or more instances may share one PostgreSQL schema and one NATS, each with its own --data (a copy of',
        '<data>/hq/keys and <data>/hq/directory): all serve the API and the read models; the one holding the writer',
        'lease writes (ingest, inquiry centre, issuance, snapshots), the others answer writes with 503 naming it and',
        'take over within seconds when it stops. /healthz shows the role and the lease holder.',
        'API tokens: every route but /healthz and /docs needs "Authorization: Bearer <token>"; without --oidc-* options the',
        "tokens are head office's own (cardsys host token --role <role> --subject <name>).",
      ].join('\n'),
    )
    .action(async (options: HostCliOptions) => {
      const http = parseHttpAddress(options.http);
      const businessDay = { ...JAPAN_BUSINESS_DAY, cutoffHour: parseCutoffHour(options.businessDayCutoff) };
      const loadLimits = {
        balanceCap: parseLimitYen(options.balanceCap, '--balance-cap'),
        dailyLoadLimit: parseLimitYen(options.dailyLoadLimit, '--daily-load-limit'),
        businessDay,
      };
      const dataDir = hqDataDir(options.data);
      const stopRequested = stopSignal();
      const api = apiAccessConfig(options);
      const station = issuanceStation(options);
      const eventStore = eventStoreChoice(options);
      const advertiseUrl = options.advertise === undefined ? undefined : parseAdvertiseUrl(options.advertise);
      const nats = headOfficeClientSettings(dataDir, options);
      const node = await startHost({
        logger: loggerOf(options, 'host'),
        dataDir,
        natsUrl: nats.url,
        natsOptions: nats.options,
        explainNatsError: nats.explain,
        natsStartupWaitMs: parseSeconds('--nats-wait', options.natsWait) * 1000,
        http,
        eventStore,
        api,
        ...(station ? { issuanceStation: station } : {}),
        ...(advertiseUrl ? { advertiseUrl } : {}),
        books: { businessDay },
        loadLimits,
        refundRules: { windowDays: parseRefundWindowDays(options.refundWindowDays), businessDay },
      });
      say(
        `head office running: data in ${dataDir}, NATS ${nats.url}, event store ${describeEventStore(dataDir, eventStore)}, ${node.role}`,
      );
      say(`query API: ${node.url}  (OpenAPI docs: ${node.docsUrl}, health: ${node.url}/healthz)`);
      say(
        api.oidc
          ? `API tokens: those of ${api.oidc.issuer} for audience ${api.oidc.audience}`
          : `API tokens: head office's own; make one with: cardsys host token --data ${options.data} --role <role> --subject <name>`,
      );
      say(
        station
          ? `primary issuance: reader "${station.readerName}", stripe ${options.issuanceStripe}`
          : 'primary issuance: off (no --issuance-reader)',
      );
      answer({
        role: node.role,
        api: node.url,
        docs: node.docsUrl,
        openapi: `${node.docsUrl}/json`,
        nats: nats.url,
        dataDir: resolve(dataDir),
      });
      say(`stopping on ${await stopRequested}`);
      await node.stop();
    });
}
