// The NATS side of provisioning: the hub's configuration (accounts per store, TLS, leaf logins by
// certificate), a store broker's configuration from the store's bundle, and the connection options
// (credentials and CA) each of head office's parts and each store's clients connect with.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ConnectionOptions } from '@nats-io/transport-node';
import type { HeadOfficePart } from '../../infra/nats/index.js';
import { natsConnectOptions } from '../../infra/nats/index.js';
import { hubNatsConfig, includeLine, storeBrokerNatsConfig } from '../../infra/nats/index.js';
import { ensureCertificate, LOCAL_HOSTS, natsTlsOptions } from '../../infra/nats/index.js';
import { headOfficeFiles, storeBundleFiles } from './layout.js';
import {
  provisionedNatsUsers,
  provisionedStores,
  provisionHeadOffice,
  ProvisioningError,
  storeNatsUsers,
  writeNatsAuthConfig,
  type StoreRecord,
} from './provision.js';

/** The host part of "host:port" ("[v6]:port" too). */
function hostOfAddress(address: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):\d{1,5}$/.exec(address);
  if (!match) throw new ProvisioningError(`expected <host:port>, got "${address}"`);
  return (match[1] ?? match[2])!;
}

const WILDCARD_HOSTS = new Set(['', '0.0.0.0', '::']);

export interface HubNatsConfigOptions {
  /** Client port, "host:port". */
  listen: string;
  /** Leaf port for the stores' brokers, "host:port"; none when omitted. */
  leafListen?: string;
  /** Leaf address the hub advertises to brokers (nats-server's `advertise`). */
  leafAdvertise?: string;
  jetstreamDir: string;
  /** More names and addresses clients reach the hub by, for its certificate. */
  tlsHosts?: string[];
  /** Where the configuration goes; `<hqDataDir>/nats-server.conf` by default. */
  out?: string;
}

export interface WrittenHubConfig {
  file: string;
  users: number;
  stores: number;
  /** The hub's certificate was (re)issued because it was missing or did not name every host. */
  certificateIssued: boolean;
}

/**
 * Writes the hub's configuration. Its accounts and leaf logins are included from the files that
 * provisioning regenerates for every new store, so adding a store needs no new configuration, only
 * a reload of nats-server.
 */
export function writeHubNatsConfig(hqDataDir: string, options: HubNatsConfigOptions): WrittenHubConfig {
  const headOffice = provisionHeadOffice({ hqDataDir });
  const files = headOffice.files;
  const named = [options.listen, options.leafListen, options.leafAdvertise]
    .filter((address): address is string => address !== undefined)
    .map(hostOfAddress);
  const hosts = [...new Set([...LOCAL_HOSTS, ...named, ...(options.tlsHosts ?? [])].filter((host) => !WILDCARD_HOSTS.has(host)))];
  const certificate = ensureCertificate(files.tlsCa, files.hubTls, { commonName: 'cardsys hub', hosts });
  writeNatsAuthConfig(hqDataDir);
  const file = options.out ?? files.natsServerConfig;
  mkdirSync(dirname(file), { recursive: true });
  const config = hubNatsConfig({
    listen: options.listen,
    jetstreamDir: options.jetstreamDir,
    tls: files.hubTls,
    ...(options.leafListen
      ? {
          leaf: {
            listen: options.leafListen,
            ...(options.leafAdvertise ? { advertise: options.leafAdvertise } : {}),
            tls: { ...files.hubTls, ca: files.tlsCa.cert },
          },
          leafAuthorization: includeLine(file, files.natsLeafAuthConfig),
        }
      : {}),
    accounts: includeLine(file, files.natsAuthConfig),
  });
  writeFileSync(file, config, { mode: 0o600 });
  return {
    file,
    users: provisionedNatsUsers(hqDataDir).length,
    stores: provisionedStores(hqDataDir).length,
    certificateIssued: certificate.created,
  };
}

/** The store's public record from its bundle (written at provisioning). */
function bundleStoreRecord(bundleDir: string): StoreRecord {
  const file = storeBundleFiles(bundleDir).record;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { store: StoreRecord }).store;
  } catch (error) {
    throw new ProvisioningError(
      `cannot read the store's record ${file}: ${(error as Error).message} (is ${bundleDir} a provisioned store bundle?)`,
    );
  }
}

export interface StoreBrokerConfigOptions {
  /** Client port on the shop LAN, "host:port". */
  listen: string;
  /** The hub's leaf URLs, e.g. tls://hq.example:7422. */
  hubLeafUrls: string[];
  reconnectSeconds?: number;
  /** Where the configuration goes; `<bundleDir>/nats-broker.conf` by default. */
  out?: string;
}

/** Writes the store broker's configuration from the store's bundle; returns its path. */
export function writeStoreBrokerConfig(bundleDir: string, options: StoreBrokerConfigOptions): string {
  const bundle = storeBundleFiles(bundleDir);
  for (const needed of [bundle.tls.cert, bundle.tls.key, bundle.tlsCa]) {
    if (!existsSync(needed))
      throw new ProvisioningError(`${needed} is missing: provision the store again with "cardsys host provision-store"`);
  }
  const record = bundleStoreRecord(bundleDir);
  const file = options.out ?? bundle.brokerConfig;
  mkdirSync(dirname(file), { recursive: true });
  const config = storeBrokerNatsConfig({
    listen: options.listen,
    tls: { ...bundle.tls, ca: bundle.tlsCa },
    hubLeafUrls: options.hubLeafUrls,
    ...(options.reconnectSeconds !== undefined ? { reconnectSeconds: options.reconnectSeconds } : {}),
    users: storeNatsUsers(record),
  });
  writeFileSync(file, config, { mode: 0o600 });
  return file;
}

export interface NatsClientChoice {
  /** One credentials file instead of the provisioned one(s). */
  creds?: string;
  /** The CA to verify the server with instead of the provisioned one. */
  tlsCa?: string;
}

const existing = (file: string) => (existsSync(file) ? file : undefined);

/** How each of head office's parts connects: its own provisioned credentials, and the CA when provisioned. */
export function headOfficeNatsOptions(
  hqDataDir: string,
  choice: NatsClientChoice = {},
): (part: HeadOfficePart) => Partial<ConnectionOptions> {
  const files = headOfficeFiles(hqDataDir);
  const tls = natsTlsOptions(choice.tlsCa ?? existing(files.tlsCa.cert));
  return (part) => ({ ...natsConnectOptions(choice.creds ?? existing(files.natsCreds[part])), ...tls });
}

/** Who of a store connects: its edge, or one of its POS terminals. */
export type StoreClient = 'store' | { terminal: string };

/** How a store's edge (or one of its POS terminals) connects: the bundle's credentials and CA, when there. */
export function storeNatsOptions(bundleDir: string, who: StoreClient, choice: NatsClientChoice = {}): Partial<ConnectionOptions> {
  const bundle = storeBundleFiles(bundleDir);
  const creds = choice.creds ?? existing(who === 'store' ? bundle.natsCreds : bundle.terminal(who.terminal).natsCreds);
  return { ...natsConnectOptions(creds), ...natsTlsOptions(choice.tlsCa ?? existing(bundle.tlsCa)) };
}
