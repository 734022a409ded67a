import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import { connectReconnecting } from '../infra/nats/index.js';
import type { SigningKey } from '../contracts/index.js';
import { buildApi, type CardView } from './api/index.js';
import { EsdbEventStore, PostgresEventStore, SqliteEventStore, withoutPassword, type EventStore } from '../eventstore/index.js';
import { HqWriter, storeKeyDirectory } from './hq-writer/index.js';
import { ensureEventsStream, startIngest, type Ingest } from './ingest/index.js';
import { provisionHeadOffice, provisionedStores, storeRegistrationEvents } from './provisioning/index.js';
import { headOfficeProjections, ProjectionRunner, READ_MODELS_FILE } from '../projections/index.js';
import type { KeyObject } from 'node:crypto';
import type { IssuerMasterKeys } from '../card/index.js';
import { headOfficeIssuance } from './issuance/index.js';
import { issuerKeysFile, loadOrCreateIssuerKeys } from './primary-issuance/index.js';
import { headOfficePurse } from './purse/index.js';
import { headOfficeBooks, type BooksOptions } from './books/index.js';
import type { Logger } from '../infra/index.js';

/** The embedded event store's file inside head office's data directory. */
export const EVENTS_FILE = 'events.db';

/** SQLite in the data directory, PostgreSQL (the URL may name the schema: `?schema=name`), or EventStoreDB. */
export type EventStoreChoice = 'sqlite' | { postgresUrl: string } | { esdbUrl: string };

/** What head office's parts are made of, for route plugins that need them. */
export interface HostParts {
  store: EventStore;
  nc: NatsConnection;
  hqWriter: HqWriter;
  runner: ProjectionRunner;
  logger: Logger;
}

export interface HostOptions {
  /** Head office's own folder (the CLI uses <data>/hq): event store, read models, keys. */
  dataDir: string;
  natsUrl: string;
  natsOptions?: Partial<ConnectionOptions>;
  http: { host: string; port: number };
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
  logger?: Logger;
}

export interface HostNode extends HostParts {
  ingest: Ingest;
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

export async function openEventStore(dataDir: string, choice: EventStoreChoice = 'sqlite', logger: Logger = stderrLogger): Promise<EventStore> {
  if (choice === 'sqlite') return SqliteEventStore.open(join(dataDir, EVENTS_FILE));
  if ('postgresUrl' in choice) return PostgresEventStore.connect(choice.postgresUrl, { logger });
  return EsdbEventStore.connect(choice.esdbUrl);
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
    const store = await openEventStore(options.dataDir, options.eventStore, logger);
    cleanup.push(() => store.close());
    const { nc, link } = await connectReconnecting({ name: 'cardsys-host', ...options.natsOptions, servers: options.natsUrl }, 'host', logger).catch(
      (error: Error) => {
        throw new Error(`cannot connect to NATS at ${options.natsUrl}: ${error.message}`);
      },
    );
    cleanup.push(() => nc.drain());
    await ensureEventsStream(nc);
    const signingKey = options.signingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).signingKey;
    const hqWriter = await HqWriter.open({ store, signingKey });
    await registerProvisionedStores(store, hqWriter, options.dataDir, logger);
    const issuerKeys = options.issuerKeys ?? loadOrCreateIssuerKeys(issuerKeysFile(options.dataDir)).keys;
    const purse = headOfficePurse({ issuerKeys });
    const runner = ProjectionRunner.open({ file: join(options.dataDir, READ_MODELS_FILE), store, projections: headOfficeProjections(issuerKeys), logger });
    cleanup.push(() => runner.close());
    runner.start();
    const ingest = await startIngest({ nc, store, storeKeys: storeKeyDirectory(store), logger });
    cleanup.push(() => ingest.stop());
    const parts: HostParts = { store, nc, hqWriter, runner, logger };
    const issuance = headOfficeIssuance({
      ...parts,
      readModels: runner.db,
      sealingKey: options.sealingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).sealingKey.privateKey,
      issuerKeys,
    });
    const cardViews: CardView[] = [];
    const books = headOfficeBooks(options.books);
    const api = await buildApi({
      store,
      runner,
      nc,
      natsLink: link,
      cardViews,
      plugins: [issuance, purse.routes({ ...parts, readModels: runner.db, cardViews }), books.routes(parts), ...(options.routes?.(parts) ?? [])],
    });
    cleanup.push(() => api.close());
    await api.listen({ host: options.http.host, port: options.http.port }).catch((error: Error) => {
      throw new Error(`cannot serve the API on ${options.http.host}:${options.http.port}: ${error.message}`);
    });
    const address = api.server.address();
    const port = typeof address === 'object' && address ? address.port : options.http.port;
    const url = `http://${options.http.host.includes(':') ? `[${options.http.host}]` : options.http.host}:${port}`;
    return { ...parts, ingest, api, url, docsUrl: `${url}/docs`, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * Stores provisioned in head office's folder whose keys the hq stream does not hold yet get their
 * StoreRegistered and StoreKeyRegistered appended, so that ingest knows their signing keys and the
 * issuance snapshots their neighbours and sealing keys.
 */
async function registerProvisionedStores(store: EventStore, hqWriter: HqWriter, dataDir: string, logger: Logger): Promise<void> {
  const registered = storeKeyDirectory(store);
  for (const record of provisionedStores(dataDir)) {
    if (await registered.publicKey(record.storeId, record.signingKeyId)) continue;
    await hqWriter.append(storeRegistrationEvents(record).map((event) => ({ event, streamId: `store-${record.storeId}` })));
    logger.info(`registered provisioned store ${record.storeId} (key ${record.signingKeyId})`);
  }
}
