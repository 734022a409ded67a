import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import type { SigningKey } from '../contracts/chain.js';
import { buildApi, type CardView } from './api/index.js';
import { EsdbEventStore, SqliteEventStore, type EventStore } from './eventstore/index.js';
import { HqWriter, storeKeyDirectory } from './hq-writer/index.js';
import { ensureEventsStream, startIngest, type Ingest, type Logger } from './ingest/index.js';
import { provisionHeadOffice, provisionedStores, storeRegistrationEvents } from './provisioning/index.js';
import { headOfficeProjections, ProjectionRunner, READ_MODELS_FILE } from '../projections/index.js';
import type { KeyObject } from 'node:crypto';
import type { IssuerMasterKeys } from '../card/index.js';
import { headOfficeIssuance } from './issuance-publisher/index.js';
import { issuerKeysFile, loadOrCreateIssuerKeys } from './primary-issuance/index.js';
import { headOfficePurse } from './inquiry/index.js';
import { HEAD_OFFICE_PARTS, RefusedRequests, type HeadOfficePart } from '../infra/nats/index.js';

/** The embedded event store's file inside head office's data directory. */
export const EVENTS_FILE = 'events.db';

export type EventStoreChoice = 'sqlite' | { esdbUrl: string };

/** One NATS connection per part of head office, each as its own principal (infra/nats/auth.ts). */
export type HeadOfficeConnections = Record<HeadOfficePart, NatsConnection>;

/** What head office's parts are made of, for route plugins that need them. */
export interface HostParts {
  store: EventStore;
  nats: HeadOfficeConnections;
  /** Requests every responder refused to answer (a reply subject not the asker's), per service. */
  refused: RefusedRequests;
  hqWriter: HqWriter;
  runner: ProjectionRunner;
  logger: Logger;
}

export interface HostOptions {
  /** Head office's own folder (the CLI uses <data>/hq): event store, read models, keys. */
  dataDir: string;
  natsUrl: string;
  /** Credentials and TLS of each part's connection; the same for every part when one object. */
  natsOptions?: Partial<ConnectionOptions> | ((part: HeadOfficePart) => Partial<ConnectionOptions>);
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

export async function openEventStore(dataDir: string, choice: EventStoreChoice = 'sqlite'): Promise<EventStore> {
  return choice === 'sqlite' ? SqliteEventStore.open(join(dataDir, EVENTS_FILE)) : EsdbEventStore.connect(choice.esdbUrl);
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
    const store = await openEventStore(options.dataDir, options.eventStore);
    cleanup.push(() => store.close());
    const nats = await connectParts(options);
    cleanup.push(() => Promise.all(Object.values(nats).map((nc) => nc.drain())));
    await ensureEventsStream(nats.ingest);
    const signingKey = options.signingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).signingKey;
    const hqWriter = await HqWriter.open({ store, signingKey });
    await registerProvisionedStores(store, hqWriter, options.dataDir, logger);
    const issuerKeys = options.issuerKeys ?? loadOrCreateIssuerKeys(issuerKeysFile(options.dataDir)).keys;
    const purse = headOfficePurse({ issuerKeys });
    const runner = ProjectionRunner.open({
      file: join(options.dataDir, READ_MODELS_FILE),
      store,
      projections: headOfficeProjections(issuerKeys),
      logger,
    });
    cleanup.push(() => runner.close());
    runner.start();
    const refused = new RefusedRequests();
    const ingest = await startIngest({
      nc: nats.ingest,
      responder: nats.responder,
      refused,
      store,
      storeKeys: storeKeyDirectory(store),
      logger,
    });
    cleanup.push(() => ingest.stop());
    const parts: HostParts = { store, nats, refused, hqWriter, runner, logger };
    const issuance = headOfficeIssuance({
      ...parts,
      readModels: runner.db,
      sealingKey: options.sealingKey ?? provisionHeadOffice({ hqDataDir: options.dataDir }).sealingKey.privateKey,
      issuerKeys,
    });
    const cardViews: CardView[] = [];
    const api = await buildApi({
      store,
      runner,
      nc: nats.api,
      cardViews,
      plugins: [issuance, purse.routes({ ...parts, readModels: runner.db, cardViews }), ...(options.routes?.(parts) ?? [])],
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

/** Connects every part of head office; a part that cannot connect closes the others again. */
async function connectParts(options: HostOptions): Promise<HeadOfficeConnections> {
  const optionsOf = (part: HeadOfficePart) => (typeof options.natsOptions === 'function' ? options.natsOptions(part) : options.natsOptions);
  const attempts = await Promise.allSettled(
    HEAD_OFFICE_PARTS.map((part) =>
      connect({ servers: options.natsUrl, name: `cardsys-host-${part}`, ...optionsOf(part) }).then((nc) => [part, nc] as const),
    ),
  );
  const failed = attempts.find((attempt): attempt is PromiseRejectedResult => attempt.status === 'rejected');
  const connected = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
  if (failed) {
    await Promise.all(connected.map(([, nc]) => nc.close()));
    throw new Error(`cannot connect to NATS at ${options.natsUrl}: ${(failed.reason as Error).message}`);
  }
  return Object.fromEntries(connected) as HeadOfficeConnections;
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
