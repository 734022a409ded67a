import type { KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { IssuerMasterKeys } from '../card/index.js';
import type { SigningKey } from '../contracts/index.js';
import { EsdbEventStore, type EventStore, PostgresEventStore, SqliteEventStore, withoutPassword } from '../eventstore/index.js';
import { acquireFileLock, childLogger, type Logger } from '../infra/index.js';
import {
  connectReconnecting,
  HEAD_OFFICE_PARTS,
  isUnreachable,
  RefusedRequests,
  type HeadOfficePart,
  type LinkWatch,
} from '../infra/nats/index.js';
import { headOfficeProjections, ProjectionRunner, READ_MODELS_FILE } from '../projections/index.js';
import { type ApiAccessConfig, buildApi, type CardView, headOfficeAccess } from './api/index.js';
import { type BooksOptions, headOfficeBooks } from './books/index.js';
import type { HqWriter } from './hq-writer/index.js';
import { ensureEventsStream } from './ingest/index.js';
import { headOfficeIssuance } from './issuance/index.js';
import { headOfficeRoles, Leadership, PostgresWriterLease, type Role, soleInstanceLease, type WriterLease } from './leadership/index.js';
import type { IssuanceStation } from './primary-issuance/index.js';
import { issuerKeysFile, loadOrCreateIssuerKeys, provisionHeadOffice } from './provisioning/index.js';
import { headOfficePurse } from './purse/index.js';
import { consolePage, consoleRoutes, StoreContacts } from './console/index.js';
import { HeadOfficeMetrics } from './metrics/index.js';
import { CONSOLE_BUILD_DIR } from '../infra/index.js';
import { JAPAN_BUSINESS_DAY, type LoadLimits, type RefundRules } from '../domain/index.js';

/** The embedded event store's file inside head office's data directory. */
export const EVENTS_FILE = 'events.db';

/** SQLite in the data directory, PostgreSQL (the URL may name the schema: `?schema=name`), or EventStoreDB. */
export type EventStoreChoice = 'sqlite' | { postgresUrl: string } | { esdbUrl: string };

/** One NATS connection per part of head office, each as its own principal (infra/nats/auth.ts). */
export type HeadOfficeConnections = Record<HeadOfficePart, NatsConnection>;

/** What head office's parts are made of, for route plugins that need them. */
export interface HostParts {
  store: EventStore;
  nats: HeadOfficeConnections;
  /** Requests every responder refused to answer (a reply subject not the asker's), per service. */
  refused: RefusedRequests;
  /** Head office's writer while this instance leads; throws NotWriterError (503) on a follower. */
  readonly hqWriter: HqWriter;
  runner: ProjectionRunner;
  logger: Logger;
}

export interface HostOptions {
  /** Head office's own folder (the CLI uses <data>/hq): event store, read models, keys. */
  dataDir: string;
  natsUrl: string;
  /** Credentials and TLS of each part's connection; the same for every part when one object. */
  natsOptions?: Partial<ConnectionOptions> | ((part: HeadOfficePart) => Partial<ConnectionOptions>);
  /** What a failed first connection is reported as: which flag or file would fix it. */
  explainNatsError?: (error: Error) => string;
  /** How long to keep trying the first connection while NATS cannot be reached (a hub starting beside it); default 0. */
  natsStartupWaitMs?: number;
  http: { host: string; port: number };
  /** Where clients reach this instance's API, as a follower names the leader in its refusals; default: the http address. */
  advertiseUrl?: string;
  eventStore?: EventStoreChoice;
  /** Key that signs head office's chain heads; default: head office's provisioned key in dataDir (made on first run). */
  signingKey?: SigningKey;
  /** More API routes, given head office's parts. */
  routes?: (parts: HostParts) => FastifyPluginAsync[];
  /** Issuer master keys for primary issuance; default: <dataDir>/keys/issuer-keys.json (made on first run). */
  issuerKeys?: IssuerMasterKeys;
  /** Head office's X25519 private key that stores seal lookups to; default: head office's provisioned key. */
  sealingKey?: KeyObject;
  /** Store clearing's business day, load deadlines and how often the books' checks run. */
  books?: BooksOptions;
  /** The balance cap and per-card daily load limit load authorisation enforces; default DEFAULT_LOAD_LIMITS. */
  loadLimits?: LoadLimits;
  /** The refund window refund authorisation enforces; default DEFAULT_REFUND_RULES (the pay's business day). */
  refundRules?: RefundRules;
  logger?: Logger;
  /** Which tokens the API accepts (head office's own unless an OIDC issuer is named) and its write rate limit. */
  api?: ApiAccessConfig;
  /** The reader and stripe encoder primary issuance uses; without it POST /v1/users/:userId/cards answers 503. */
  issuanceStation?: IssuanceStation;
  /** Silence after which the console shows a store offline (edges send a heartbeat every 2 s by default). */
  storeOfflineAfterMs?: number;
}

export interface HostNode extends HostParts {
  /** Leader (holds the writer lease) or follower; with SQLite always the leader. */
  readonly role: Role;
  api: FastifyInstance;
  /** Base URL of the query API, e.g. http://127.0.0.1:8080. */
  url: string;
  docsUrl: string;
  stop(): Promise<void>;
}

const stderrLogger: Logger = {
  info: (message: unknown) => process.stderr.write(`host: ${String(message)}\n`),
  warn: (message: unknown) => process.stderr.write(`host: warning: ${String(message)}\n`),
  error: (message: unknown) => process.stderr.write(`host: error: ${String(message)}\n`),
};

export async function openEventStore(
  dataDir: string,
  choice: EventStoreChoice = 'sqlite',
  logger: Logger = stderrLogger,
): Promise<EventStore> {
  if (choice === 'sqlite') return SqliteEventStore.open(join(dataDir, EVENTS_FILE));
  if ('postgresUrl' in choice) return PostgresEventStore.connect(choice.postgresUrl, { logger });
  return EsdbEventStore.connect(choice.esdbUrl);
}

/** PostgreSQL lets several instances share head office's events, one writing at a time; elsewhere this instance is the only one. */
function openWriterLease(choice: EventStoreChoice = 'sqlite', logger: Logger): Promise<WriterLease> | WriterLease {
  return typeof choice === 'object' && 'postgresUrl' in choice
    ? PostgresWriterLease.connect(choice.postgresUrl, { logger })
    : soleInstanceLease();
}

/** The event store as messages name it: the SQLite file, or the server URL without its password. */
export function describeEventStore(dataDir: string, choice: EventStoreChoice = 'sqlite'): string {
  if (choice === 'sqlite') return `SQLite ${join(dataDir, EVENTS_FILE)}`;
  const [kind, url] = 'postgresUrl' in choice ? ['PostgreSQL', choice.postgresUrl] : ['EventStoreDB', choice.esdbUrl];
  return `${kind} ${withoutPassword(url)}`;
}

/**
 * Head office: event store, the JetStream stream stores publish to, ingest, head office's writer,
 * projections and the query API. Parts already started are stopped again if a later one fails.
 */
export async function startHost(options: HostOptions): Promise<HostNode> {
  const logger = options.logger ?? stderrLogger;
  const cleanup: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of cleanup.reverse().splice(0)) await stop().catch((error: Error) => logger.warn(`while stopping: ${error.message}`));
  };
  try {
    // Two head offices on one folder would share keys, read models and the SQLite event store.
    mkdirSync(options.dataDir, { recursive: true });
    const lock = acquireFileLock(join(options.dataDir, 'host.lock'), `head office's data folder ${options.dataDir}`);
    cleanup.push(async () => lock.release());
    const part = (component: string) => childLogger(logger, { component });
    const store = await openEventStore(options.dataDir, options.eventStore, part('event-store'));
    cleanup.push(() => store.close());
    const { nats, links } = await connectParts(options, part('nats'));
    cleanup.push(() => Promise.all(Object.values(nats).map((nc) => nc.drain())));
    await ensureEventsStream(nats.ingest);
    const signingKey = options.signingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).signingKey;
    const issuerKeys = options.issuerKeys ?? loadOrCreateIssuerKeys(issuerKeysFile(options.dataDir)).keys;
    const runner = ProjectionRunner.open({
      file: join(options.dataDir, READ_MODELS_FILE),
      store,
      projections: headOfficeProjections(issuerKeys),
      logger: part('projections'),
    });
    cleanup.push(() => runner.close());
    runner.start();
    const purse = headOfficePurse({
      issuerKeys,
      ...(options.loadLimits ? { loadLimits: options.loadLimits } : {}),
      ...(options.refundRules ? { refundRules: options.refundRules } : {}),
    });
    const refused = new RefusedRequests();
    const books = headOfficeBooks({ ...options.books, store, runner, logger: part('books') });
    const issuance = headOfficeIssuance({
      store,
      nats,
      refused,
      readModels: runner.db,
      sealingKey: options.sealingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).sealingKey.privateKey,
      signingKey,
      issuerKeys,
      ...(options.issuanceStation ? { station: options.issuanceStation } : {}),
      logger: part('issuance'),
    });
    const contacts = new StoreContacts(options.storeOfflineAfterMs);
    const metrics = new HeadOfficeMetrics({ store, runner, readModels: runner.db, links, contacts });
    // The single-writer parts run where the lease is held; see host/leadership.
    const lease = await openWriterLease(options.eventStore, part('lease'));
    cleanup.push(() => lease.close());
    const roles = headOfficeRoles({
      store,
      nats,
      refused,
      signingKey,
      dataDir: options.dataDir,
      purse,
      issuance,
      books,
      contacts,
      metrics,
      shared: lease.shared,
      logger,
    });
    const leadership = new Leadership({ lease, logger: part('leadership'), ...roles });
    cleanup.push(() => leadership.stop());
    const parts: HostParts = {
      store,
      nats,
      refused,
      get hqWriter() {
        return leadership.leader().hqWriter;
      },
      runner,
      logger,
    };
    const cardViews: CardView[] = [];
    const api = await buildApi({
      store,
      runner,
      logger: part('api'),
      nc: nats.api,
      natsLink: links.api,
      onAnswered: metrics.answered.bind(metrics),
      cardViews,
      access: headOfficeAccess(options.dataDir, () => leadership.leader().hqWriter, options.api),
      writeGuard: () => void leadership.leader(),
      leadership: () => leadership.status(),
      plugins: [
        issuance.routes(() => leadership.leader().office),
        purse.routes({
          centre: () => leadership.reads().centre,
          readModels: runner.db,
          cardViews,
          issueCard: (request) => issuance.issueCard(() => leadership.leader().office, request),
        }),
        books.routes(),
        consoleRoutes({
          readModels: runner.db,
          store,
          contacts,
          businessDay: options.books?.businessDay ?? JAPAN_BUSINESS_DAY,
          blacklistVersion: () => leadership.reads().centre.blacklistVersion,
          hqWriter: () => leadership.leader().hqWriter,
        }),
        consolePage(CONSOLE_BUILD_DIR),
        metrics.routes(),
        ...(options.routes?.(parts) ?? []),
      ],
    });
    cleanup.push(() => api.close());
    await api.listen({ host: options.http.host, port: options.http.port }).catch((error: Error) => {
      throw new Error(`cannot serve the API on ${options.http.host}:${options.http.port}: ${error.message}`);
    });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : options.http.port;
    const url = `http://${options.http.host.includes(':') ? `[${options.http.host}]` : options.http.host}:${port}`;
    await leadership.start({
      instance: `${hostname()}:${process.pid}`,
      apiUrl: options.advertiseUrl ?? url,
    });
    return {
      store,
      nats,
      refused,
      runner,
      logger,
      get hqWriter() {
        return parts.hqWriter;
      },
      get role() {
        return leadership.currentRole;
      },
      api,
      url,
      docsUrl: `${url}/docs`,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

const STARTUP_RETRY_MS = 500;

/**
 * Connects every part of head office, each its own principal and reconnecting forever; a part that
 * cannot connect at first closes the others again. Health follows the API part's connection.
 */
async function connectParts(
  options: HostOptions,
  logger: Logger,
  waiting = false,
): Promise<{ nats: HeadOfficeConnections; links: Record<HeadOfficePart, LinkWatch> }> {
  const optionsOf = (part: HeadOfficePart) => (typeof options.natsOptions === 'function' ? options.natsOptions(part) : options.natsOptions);
  const attempts = await Promise.allSettled(
    HEAD_OFFICE_PARTS.map((part) =>
      connectReconnecting({ name: `cardsys-host-${part}`, ...optionsOf(part), servers: options.natsUrl }, `host ${part}`, logger).then(
        (connection) => [part, connection] as const,
      ),
    ),
  );
  const failed = attempts.find((attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected');
  const connected = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
  if (failed) {
    await Promise.all(connected.map(([, { nc }]) => nc.close()));
    const reason = failed.reason as Error;
    const waitMs = options.natsStartupWaitMs ?? 0;
    // Only an unreachable server is waited for: a refused login or certificate will not mend itself.
    if (waitMs > 0 && isUnreachable(reason)) {
      if (!waiting)
        logger.warn(`NATS at ${options.natsUrl} cannot be reached yet (${reason.message}); trying for ${Math.round(waitMs / 1000)} s`);
      await new Promise((settle) => setTimeout(settle, STARTUP_RETRY_MS));
      return connectParts({ ...options, natsStartupWaitMs: waitMs - STARTUP_RETRY_MS }, logger, true);
    }
    throw new Error(options.explainNatsError?.(reason) ?? `cannot connect to NATS at ${options.natsUrl}: ${reason.message}`);
  }
  const nats = Object.fromEntries(connected.map(([part, { nc }]) => [part, nc])) as HeadOfficeConnections;
  return { nats, links: Object.fromEntries(connected.map(([part, { link }]) => [part, link])) as Record<HeadOfficePart, LinkWatch> };
}
