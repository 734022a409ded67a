// The NATS side of provisioning: the hub's configuration (accounts per store, TLS, leaf logins by
// certificate), a store broker's configuration from the store's bundle, and the connection options
// (credentials and CA) each of head office's parts and each store's clients connect with.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { ConnectionOptions } from '@nats-io/transport-node';
import type { HeadOfficePart } from '../../infra/nats/index.js';
import { hubNatsConfig, includeLine, storeBrokerNatsConfig } from '../../infra/nats/index.js';
import { ensureCertificate, LOCAL_HOSTS } from '../../infra/nats/index.js';
import { headOfficeFiles, hubNodeFiles, storeBundleFiles, writeRecordedAddress } from './layout.js';
import {
  provisionedNatsUsers,
  provisionedStores,
  provisionHeadOffice,
  ProvisioningError,
  storeNatsUsers,
  writeNatsAuthConfig,
} from './provision.js';
import {
  bundleRecord,
  clientUrlOf,
  headOfficeClientSettings,
  storeClientSettings,
  type NatsFlags,
  type StoreClient,
} from './client-settings.js';

/** The host part of "host:port" ("[v6]:port" too). */
function hostOfAddress(address: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):\d{1,5}$/.exec(address);
  if (!match) throw new ProvisioningError(`expected <host:port>, got "${address}"`);
  return (match[1] ?? match[2])!;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

/** One hub node's addresses and files. */
export interface HubNodeOptions {
  /** Client port, "host:port". */
  listen: string;
  /** Leaf port for the stores' brokers, "host:port"; none when omitted. */
  leafListen?: string;
  /** Leaf address the hub advertises to brokers (nats-server's `advertise`). */
  leafAdvertise?: string;
  jetstreamDir: string;
  /** Where the configuration goes; `<hqDataDir>/nats-server.conf` (a cluster's: `nats-server-<n>.conf`) by default. */
  out?: string;
}

export interface HubNatsConfigOptions extends HubNodeOptions {
  /** More names and addresses clients reach the hub by, for its certificate. */
  tlsHosts?: string[];
}

export interface HubClusterConfigOptions {
  /** Every node of the JetStream cluster, each with the address the others route to it on. */
  nodes: Array<HubNodeOptions & { routeListen: string }>;
  /** More names and addresses clients and the other nodes reach the hub by, for its certificate. */
  tlsHosts?: string[];
}

export interface WrittenHubConfig {
  /** The configuration (a cluster's first node's). */
  file: string;
  /** Every node's configuration, in node order. */
  files: string[];
  users: number;
  stores: number;
  /** The hub's certificate was (re)issued because it was missing or did not name every host. */
  certificateIssued: boolean;
}

/** The name a JetStream cluster of hub nodes goes by, and each node's. */
const CLUSTER_NAME = 'cardsys-hub';
/** The server name of a clustered hub's node `node` (from 1), as JetStream reports its streams' leaders and copies. */
export const hubNodeName = (node: number) => `${CLUSTER_NAME}-${node}`;

/**
 * Writes the hub's configuration. Its accounts and leaf logins are included from the files that
 * provisioning regenerates for every new store, so adding a store needs no new configuration, only
 * a reload of nats-server.
 */
export function writeHubNatsConfig(hqDataDir: string, options: HubNatsConfigOptions): WrittenHubConfig {
  return writeHubNodes(hqDataDir, [options], options.tlsHosts);
}

/**
 * Writes one configuration per node of a clustered hub: the same accounts, leaf logins and
 * certificate on every node, JetStream clustered over TLS routes between them (streams then keep
 * three replicas, see `streamReplicas`).
 */
export function writeHubClusterNatsConfig(hqDataDir: string, options: HubClusterConfigOptions): WrittenHubConfig {
  if (options.nodes.length < 3)
    throw new ProvisioningError(`a clustered hub needs 3 nodes or more (JetStream keeps a quorum of 3); got ${options.nodes.length}`);
  return writeHubNodes(hqDataDir, options.nodes, options.tlsHosts);
}

function writeHubNodes(
  hqDataDir: string,
  nodes: Array<HubNodeOptions & { routeListen?: string }>,
  tlsHosts: string[] | undefined,
): WrittenHubConfig {
  const headOffice = provisionHeadOffice({ hqDataDir });
  const files = headOffice.files;
  const named = nodes
    .flatMap((node) => [node.listen, node.leafListen, node.leafAdvertise, node.routeListen])
    .filter((address): address is string => address !== undefined)
    .map(hostOfAddress);
  const hosts = [...new Set([...LOCAL_HOSTS, ...named, ...(tlsHosts ?? [])].filter((host) => !WILDCARD_HOSTS.has(host)))];
  const clustered = nodes.length > 1;
  // A cluster's nodes show the hub's certificate to each other on their routes, as clients too.
  const certificate = ensureCertificate(files.tlsCa, files.hubTls, { commonName: 'cardsys hub', hosts, clientAuth: clustered });
  writeNatsAuthConfig(hqDataDir);
  const written = nodes.map((node, index) => {
    const own = clustered ? hubNodeFiles(hqDataDir, index + 1) : { config: files.natsServerConfig, pidFile: files.hubPidFile };
    const file = node.out ?? own.config;
    mkdirSync(dirname(file), { recursive: true });
    const config = hubNatsConfig({
      listen: node.listen,
      jetstreamDir: node.jetstreamDir,
      tls: files.hubTls,
      ...(node.leafListen
        ? {
            leaf: {
              listen: node.leafListen,
              ...(node.leafAdvertise ? { advertise: node.leafAdvertise } : {}),
              tls: { ...files.hubTls, ca: files.tlsCa.cert },
            },
          }
        : {}),
      accounts: includeLine(file, files.natsAuthConfig),
      pidFile: own.pidFile,
      ...(clustered
        ? {
            cluster: {
              name: CLUSTER_NAME,
              serverName: hubNodeName(index + 1),
              listen: required(node.routeListen, `node ${index + 1}'s route address`),
              routes: nodes.filter((other) => other !== node).map((other) => routeUrlOf(required(other.routeListen, 'a route address'))),
              tls: { ...files.hubTls, ca: files.tlsCa.cert },
            },
          }
        : {}),
    });
    writeFileSync(file, config, { mode: 0o600 });
    return file;
  });
  // Head office's parts try every node: a client that knows one only cannot start while it is down.
  writeRecordedAddress(files.hubAddress, { url: nodes.map((node) => clientUrlOf(node.listen)).join(',') });
  return {
    file: written[0]!,
    files: written,
    users: provisionedNatsUsers(hqDataDir).length,
    stores: provisionedStores(hqDataDir).length,
    certificateIssued: certificate.created,
  };
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new ProvisioningError(`a clustered hub needs ${what}`);
  return value;
}

/** The route URL of a node listening for routes on "host:port". */
const routeUrlOf = (listen: string) => clientUrlOf(listen).replace(/^nats:/, 'tls:');

export interface StoreBrokerConfigOptions {
  /** Client port on the shop LAN, "host:port"; by default `brokerListenOf(bundleDir)`. */
  listen?: string;
  /** The hub's leaf URLs, e.g. tls://hq.example:7422. */
  hubLeafUrls: string[];
  reconnectSeconds?: number;
  /** Where the configuration goes; `<bundleDir>/nats-broker.conf` by default. */
  out?: string;
}

/**
 * Where the store's broker listens unless told: on the port of the address provisioning recorded for
 * its edge and POS terminals (store-broker.json), on every interface unless that address is this
 * machine's own (then on 127.0.0.1 only); 127.0.0.1:4222 without a record.
 */
export function brokerListenOf(bundleDir: string): string {
  const file = storeBundleFiles(bundleDir).brokerAddress;
  if (!existsSync(file)) return '127.0.0.1:4222';
  const url = new URL((JSON.parse(readFileSync(file, 'utf8')) as { url: string }).url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const local = host === 'localhost' || host === '::1' || host.startsWith('127.');
  return `${local ? '127.0.0.1' : '0.0.0.0'}:${url.port || '4222'}`;
}

/** Writes the store broker's configuration from the store's bundle; returns its path and where it listens. */
export function writeStoreBrokerConfig(bundleDir: string, options: StoreBrokerConfigOptions): { file: string; listen: string } {
  const bundle = storeBundleFiles(bundleDir);
  for (const needed of [bundle.tls.cert, bundle.tls.key, bundle.tlsCa]) {
    if (!existsSync(needed))
      throw new ProvisioningError(`${needed} is missing: provision the store again with "cardsys host provision-store"`);
  }
  const record = bundleRecord(bundleDir);
  if (!record)
    throw new ProvisioningError(`${bundle.record} is missing: is ${bundleDir} a store bundle from "cardsys host provision-store"?`);
  const file = options.out ?? bundle.brokerConfig;
  mkdirSync(dirname(file), { recursive: true });
  const listen = options.listen ?? brokerListenOf(bundleDir);
  const config = storeBrokerNatsConfig({
    listen,
    tls: { ...bundle.tls, ca: bundle.tlsCa },
    hubLeafUrls: options.hubLeafUrls,
    ...(options.reconnectSeconds !== undefined ? { reconnectSeconds: options.reconnectSeconds } : {}),
    users: storeNatsUsers(record),
  });
  writeFileSync(file, config, { mode: 0o600 });
  return { file, listen };
}

/** How each of head office's parts connects: its own provisioned credentials, and the CA when provisioned. */
export function headOfficeNatsOptions(hqDataDir: string, choice: NatsFlags = {}): (part: HeadOfficePart) => Partial<ConnectionOptions> {
  return headOfficeClientSettings(hqDataDir, choice).options;
}

/** How a store's edge (or one of its POS terminals) connects: the bundle's credentials and CA, when there. */
export function storeNatsOptions(bundleDir: string, who: StoreClient, choice: NatsFlags = {}): Partial<ConnectionOptions> {
  return storeClientSettings(bundleDir, basename(bundleDir), who, choice).options;
}

export type HubReload =
  | { reloaded: true; pid: number; pidFile: string }
  | { reloaded: false; pidFile: string /** What to run where the hub runs. */; command: string; reason: string };

/** Between the two reloads: the first has to be done before the second is signalled. */
const SECOND_RELOAD_AFTER_MS = 1_000;

/**
 * Asks the hub's nats-server (every node of a clustered hub) to reload its configuration (SIGHUP,
 * as `nats-server --signal reload` does), so it reads the accounts and leaf logins provisioning
 * regenerated. Twice: nats-server 2.9 adds an account on a reload but wires that account's imports
 * only at the next one. Each node writes its process id to `<hq>/nats-server.pid` (a cluster's node
 * n to `nats-server-<n>.pid`; their configurations say so); where no live process is found there
 * (the hub runs on another machine, or is not running), the commands to run are returned.
 */
export async function reloadHub(hqDataDir: string): Promise<HubReload[]> {
  const single = resolve(headOfficeFiles(hqDataDir).hubPidFile);
  const nodes: string[] = [];
  for (let node = 1; existsSync(hubNodeFiles(hqDataDir, node).pidFile); node++) nodes.push(resolve(hubNodeFiles(hqDataDir, node).pidFile));
  return Promise.all((nodes.length > 0 && !existsSync(single) ? nodes : [single]).map(reloadNode));
}

async function reloadNode(pidFile: string): Promise<HubReload> {
  const once = `nats-server --signal reload=${pidFile}`;
  const command = `${once} && sleep 1 && ${once}`;
  if (!existsSync(pidFile)) return { reloaded: false, pidFile, command, reason: `no hub has written ${pidFile}` };
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return { reloaded: false, pidFile, command, reason: `${pidFile} holds no process id` };
  // A stale file may name a process id since reused by another program: never hang that one up.
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync('/proc/self') && (!existsSync(cmdline) || !readFileSync(cmdline, 'utf8').includes('nats-server')))
    return { reloaded: false, pidFile, command, reason: `process ${pid} of ${pidFile} is not a running nats-server` };
  try {
    process.kill(pid, 'SIGHUP');
    await new Promise((settle) => setTimeout(settle, SECOND_RELOAD_AFTER_MS));
    process.kill(pid, 'SIGHUP');
    return { reloaded: true, pid, pidFile };
  } catch (error) {
    return {
      reloaded: false,
      pidFile,
      command,
      reason: `process ${pid} of ${pidFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    };
  }
}
