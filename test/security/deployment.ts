// A deployment as provisioning makes it, for attacks with real credentials and for the broker's
// faults: head office's hub (the configuration `cardsys host nats-config` writes: TLS, JetStream in
// head office's account, one account per store, a leaf port where brokers log in with their
// certificates; with `hubNodes`, a JetStream cluster of that many nodes), head office itself with
// each part on its own credentials, and stores' brokers (`cardsys edge broker-config`) joined over
// TLS leaf links to every hub node.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { terminalKeysFromJson, type IssuerMasterKeys } from '../../card/index.js';
import { loadPinKey, loadPublicKey, loadSigningKey, subjects } from '../../contracts/index.js';
import type { LoadLimits } from '../../domain/index.js';
import { startEdge, type CounterOptions, type EdgeNode } from '../../edge/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import {
  headOfficeFiles,
  headOfficeNatsOptions,
  issuerKeysFile,
  loadIssuerKeys,
  provisionStore,
  storeBundleFiles,
  storeNatsOptions,
  writeHubClusterNatsConfig,
  writeHubNatsConfig,
  writeStoreBrokerConfig,
  type StoreBundleFiles,
  type StoreClient,
} from '../../host/provisioning/index.js';
import { freePort, type Logger } from '../../infra/index.js';
import { natsConnectOptions, startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { capturingLogger } from '../../testkit/backbone.js';

/** Every store's POS terminals. */
const TERMINALS = ['pos-1', 'pos-2'];

export interface Broker {
  server: NatsServer;
  url: string;
  logFile: string;
}

export interface Deployment {
  root: string;
  hqDataDir: string;
  /** The hub, or a clustered hub's first node. */
  hub: NatsServer;
  /** Every node of the hub (one unless clustered). */
  hubs: NatsServer[];
  /** The hub's leaf port (TLS, a store certificate required); a cluster's first node's. */
  leafPort: number;
  /** Every hub node's leaf port: a store's broker lists them all. */
  leafPorts: number[];
  /** Head office's parts reach the hub on these (every node). */
  hubUrl: string;
  host: HostNode;
  issuerKeys: IssuerMasterKeys;
  /** Everything head office logged. */
  log: ReturnType<typeof capturingLogger>;
  bundle(storeId: string): StoreBundleFiles;
  bundleDir(storeId: string): string;
  /** A connection made here and closed with the deployment. */
  connect(url: string, options: Partial<ConnectionOptions>): Promise<NatsConnection>;
  /** The store's edge or one of its POS terminals on the hub, with their own credentials and the CA. */
  connectToHub(storeId: string, who: StoreClient): Promise<NatsConnection>;
  /** The auditor on the hub (reads the events stream, hears acks). */
  connectAuditor(): Promise<NatsConnection>;
  /** The store's broker as `cardsys edge broker-config` writes it, once its leaf link to the hub is up. */
  startBroker(storeId: string): Promise<Broker>;
  /** A nats-server run by whoever holds the store's bundle, configured as they like (here: anyone may connect and do anything). */
  startRogueBroker(storeId: string): Promise<Broker>;
  /**
   * The store's edge on `brokerUrl` with its own credentials and a counter whose readers hold no card
   * (or the readers given); stopped with the deployment. `natsOptions` replace the credentials and CA
   * (a rogue broker asks for neither).
   */
  startEdge(
    storeId: string,
    brokerUrl: string,
    logger: Logger,
    options?: { cardReader?: CounterOptions['cardReader']; natsOptions?: Partial<ConnectionOptions> },
  ): Promise<EdgeNode>;
  close(): Promise<void>;
}

export async function startDeployment(
  storeIds: string[],
  options: { hubNodes?: number; loadLimits?: LoadLimits } = {},
): Promise<Deployment> {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-deployment-'));
  const hqDataDir = join(root, 'hq');
  const bundleDir = (storeId: string) => join(root, 'stores', storeId);
  for (const storeId of storeIds)
    provisionStore({ hqDataDir, storeId, name: `Store ${storeId}`, bundleDir: bundleDir(storeId), terminals: TERMINALS });
  const count = options.hubNodes ?? 1;
  const nodes: Array<{ dir: string; port: number; leafPort: number; routePort: number; out: string }> = [];
  for (let node = 1; node <= count; node++) {
    const dir = join(root, 'nats', count === 1 ? 'hub' : `hub-${node}`);
    nodes.push({
      dir,
      port: await freePort(),
      leafPort: await freePort(),
      routePort: await freePort(),
      out: join(dir, 'nats-server.conf'),
    });
  }
  const nodeOptions = nodes.map((node) => ({
    listen: `127.0.0.1:${node.port}`,
    leafListen: `127.0.0.1:${node.leafPort}`,
    jetstreamDir: join(node.dir, 'jetstream'),
    out: node.out,
  }));
  if (count === 1) writeHubNatsConfig(hqDataDir, nodeOptions[0]!);
  else
    writeHubClusterNatsConfig(hqDataDir, {
      nodes: nodeOptions.map((node, index) => ({ ...node, routeListen: `127.0.0.1:${nodes[index]!.routePort}` })),
    });
  // A cluster's nodes wait for each other's routes before they answer: start them together.
  const hubs = await Promise.all(nodes.map((node) => startNatsServer({ dataDir: node.dir, port: node.port, configFile: node.out })));
  const hub = hubs[0]!;
  const leafPort = nodes[0]!.leafPort;
  const leafPorts = nodes.map((node) => node.leafPort);
  const hubUrl = hubs.map((server) => server.url).join(',');
  // The issuer keys provisioning made the stores' terminal keys from: cards issued with them work at the stores.
  const issuerKeys = loadIssuerKeys(issuerKeysFile(hqDataDir));
  const servers: NatsServer[] = [...hubs];
  const connections: NatsConnection[] = [];
  const log = capturingLogger();
  let host: HostNode | undefined;
  const edges: EdgeNode[] = [];
  const cleanUp = async () => {
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    for (const edge of edges) await edge.stop();
    await host?.stop();
    for (const server of servers.reverse()) await server.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    host = await startHost({
      dataDir: hqDataDir,
      natsUrl: hubUrl,
      natsOptions: headOfficeNatsOptions(hqDataDir),
      http: { host: '127.0.0.1', port: 0 },
      issuerKeys,
      logger: log.logger,
      ...(options.loadLimits ? { loadLimits: options.loadLimits } : {}),
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const track = async (url: string, options: Partial<ConnectionOptions>) => {
    const nc = await connect({ servers: url, reconnect: false, ...options });
    connections.push(nc);
    return nc;
  };

  /**
   * Starts nats-server on `config` and waits until its leaf link to the hub carries a request of the
   * store's to head office (nats-server logs a leaf connection before its TLS handshake is done).
   */
  const startLeafServer = async (
    storeId: string,
    name: string,
    config: (dir: string, port: number) => string,
    client: Partial<ConnectionOptions>,
  ): Promise<Broker> => {
    const dir = join(root, 'nats', name);
    const brokerPort = await freePort();
    const server = await startNatsServer({ dataDir: dir, port: brokerPort, configFile: config(dir, brokerPort) });
    servers.push(server);
    const probe = await connect({ servers: server.url, reconnect: false, ...client });
    try {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const answered = await probe.request(subjects.sync(storeId), new Uint8Array(0), { timeout: 500 }).then(
          () => true,
          () => false,
        );
        if (answered) break;
        if (Date.now() > deadline) throw new Error(`store ${storeId}'s ${name} did not reach head office through its leaf link`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await probe.close();
    }
    return { server, url: server.url, logFile: join(dir, 'nats-server.log') };
  };

  return {
    root,
    hqDataDir,
    hub,
    hubs,
    leafPort,
    leafPorts,
    hubUrl,
    host,
    issuerKeys,
    log,
    bundle: (storeId) => storeBundleFiles(bundleDir(storeId)),
    bundleDir,
    connect: track,
    connectToHub: (storeId, who) => track(hub.url, storeNatsOptions(bundleDir(storeId), who)),
    connectAuditor: () => {
      const files = headOfficeFiles(hqDataDir);
      return track(hub.url, { ...natsConnectOptions(files.auditorCreds), tls: { caFile: files.tlsCa.cert } });
    },
    startBroker: (storeId) =>
      startLeafServer(
        storeId,
        `broker-${storeId}`,
        (dir, brokerPort) =>
          writeStoreBrokerConfig(bundleDir(storeId), {
            listen: `127.0.0.1:${brokerPort}`,
            hubLeafUrls: leafPorts.map((port) => `tls://127.0.0.1:${port}`),
            out: join(dir, 'broker.conf'),
          }).file,
        storeNatsOptions(bundleDir(storeId), 'store'),
      ),
    startRogueBroker: (storeId) =>
      startLeafServer(
        storeId,
        `rogue-${storeId}`,
        (dir, brokerPort) => {
          const bundle = storeBundleFiles(bundleDir(storeId));
          const tls = `cert_file: ${JSON.stringify(bundle.tls.cert)}, key_file: ${JSON.stringify(bundle.tls.key)}, ca_file: ${JSON.stringify(bundle.tlsCa)}`;
          const file = join(dir, 'rogue.conf');
          mkdirSync(dir, { recursive: true });
          writeFileSync(
            file,
            [
              `listen: "127.0.0.1:${brokerPort}"`,
              'default_js_domain: { "$G": "" }',
              `leafnodes { reconnect: 1, remotes = [ { urls: ["tls://127.0.0.1:${leafPort}"], tls: { ${tls} } } ] }`,
              '',
            ].join('\n'),
          );
          return file;
        },
        {},
      ),
    async startEdge(storeId, brokerUrl, logger, options = {}) {
      const bundle = storeBundleFiles(bundleDir(storeId));
      const edge = await startEdge({
        storeId,
        dataDir: join(root, `edge-${storeId}`),
        natsUrl: brokerUrl,
        natsOptions: options.natsOptions ?? storeNatsOptions(bundleDir(storeId), 'store'),
        signingKey: loadSigningKey(bundle.signingKey),
        logger,
        counter: {
          keys: terminalKeysFromJson(JSON.parse(readFileSync(bundle.terminalKeys, 'utf8'))),
          pinMasterKey: loadPinKey(bundle.pinMasterKey),
          hqSigningPublicKey: loadPublicKey(bundle.hqSigningPublicKey),
          cardReader:
            options.cardReader ??
            (() => {
              throw new Error('no card in the reader');
            }),
        },
      });
      edges.push(edge);
      await edge.nats;
      return edge;
    },
    close: cleanUp,
  };
}
