// Where provisioning keeps its files. Head office's folder holds its own secrets in `keys/` and
// only the public halves of every store in `directory/`; a store's bundle holds that store's
// secrets and is handed over to the store (the edge reads it from its data folder).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HEAD_OFFICE_PARTS, type HeadOfficePart } from '../../infra/nats/index.js';
import type { CertificateFiles } from '../../infra/nats/index.js';

export interface HeadOfficeFiles {
  signingKey: string;
  sealingKey: string;
  /** Ed25519 key that signs the API's bearer tokens (`cardsys host token`) when no OIDC issuer is configured. */
  apiTokenKey: string;
  /** NATS credentials of each part of head office, each its own principal. */
  natsCreds: Record<HeadOfficePart, string>;
  /** NATS credentials of the read-only auditor. */
  auditorCreds: string;
  /** Public halves of head office's keys. */
  record: string;
  /** Public record of each provisioned store: `<directory>/<storeId>.json`. */
  directory: string;
  /** The hub's generated `accounts` block (one account per store, with its leaf login), included by its configuration. */
  natsAuthConfig: string;
  /** The hub's nats-server configuration (`cardsys host nats-config`). */
  natsServerConfig: string;
  /** Where head office's parts reach the hub (`{"url": …}`, written by `cardsys host nats-config`). */
  hubAddress: string;
  /** The hub's process id, written by nats-server itself: what a reload is signalled to. */
  hubPidFile: string;
  /** Head office's private CA: it signs the hub's and every store's TLS certificate. */
  tlsCa: CertificateFiles;
  /** The hub's TLS certificate. */
  hubTls: CertificateFiles;
}

export function headOfficeFiles(hqDataDir: string): HeadOfficeFiles {
  return {
    signingKey: join(hqDataDir, 'keys', 'signing-key.pem'),
    sealingKey: join(hqDataDir, 'keys', 'sealing-key.pem'),
    apiTokenKey: join(hqDataDir, 'keys', 'api-token-key.pem'),
    natsCreds: Object.fromEntries(HEAD_OFFICE_PARTS.map((part) => [part, join(hqDataDir, 'keys', `nats-${part}.nk`)])) as Record<
      HeadOfficePart,
      string
    >,
    auditorCreds: join(hqDataDir, 'keys', 'auditor.nk'),
    record: join(hqDataDir, 'directory', 'hq.public.json'),
    directory: join(hqDataDir, 'directory', 'stores'),
    natsAuthConfig: join(hqDataDir, 'nats-auth.conf'),
    natsServerConfig: join(hqDataDir, 'nats-server.conf'),
    hubAddress: join(hqDataDir, 'hub.json'),
    hubPidFile: join(hqDataDir, 'nats-server.pid'),
    tlsCa: { cert: join(hqDataDir, 'tls', 'ca.pem'), key: join(hqDataDir, 'keys', 'tls-ca-key.pem') },
    hubTls: { cert: join(hqDataDir, 'tls', 'hub.pem'), key: join(hqDataDir, 'keys', 'hub-tls-key.pem') },
  };
}

export interface StoreBundleFiles {
  /** Ed25519 key that signs the store's chain heads (public half beside it, `.pub.pem`). */
  signingKey: string;
  /** X25519 key that issuance data for the store is sealed to. */
  sealingKey: string;
  /** NATS credentials of the edge node. */
  natsCreds: string;
  /** The store's PIN master key: the edge derives each terminal's PIN key from it to open PIN blocks. */
  pinMasterKey: string;
  /** Each POS terminal's own files (`terminals/<terminalId>/`), handed to that terminal. */
  terminal(terminalId: string): TerminalFiles;
  /** Head office's X25519 public key: what the store seals issuance records and lookups to. */
  hqSealingPublicKey: string;
  /** Head office's Ed25519 public key, to check head office's signatures. */
  hqSigningPublicKey: string;
  /** Public description of the store and of head office's keys. */
  record: string;
  /** The store terminals' master keys (JSON): what its card terminals derive per-card keys from. */
  terminalKeys: string;
  /** Head office's CA certificate: the store's clients verify its broker and the hub with it. */
  tlsCa: string;
  /** The store's TLS certificate: its broker's on the shop LAN, and its leaf login at the hub. */
  tls: CertificateFiles;
  /** The store broker's nats-server configuration (`cardsys edge broker-config`). */
  brokerConfig: string;
  /** Where the store's edge and POS terminals reach its broker (`{"url": …}`, recorded at provisioning). */
  brokerAddress: string;
}

export function storeBundleFiles(bundleDir: string): StoreBundleFiles {
  return {
    signingKey: join(bundleDir, 'signing-key.pem'),
    sealingKey: join(bundleDir, 'sealing-key.pem'),
    natsCreds: join(bundleDir, 'store.nk'),
    pinMasterKey: join(bundleDir, 'pin-master-key'),
    terminal: (terminalId) => terminalFiles(join(bundleDir, 'terminals', terminalId)),
    hqSealingPublicKey: join(bundleDir, 'hq-sealing-key.pub.pem'),
    hqSigningPublicKey: join(bundleDir, 'hq-signing-key.pub.pem'),
    record: join(bundleDir, 'store.json'),
    terminalKeys: join(bundleDir, 'terminal-keys.json'),
    tlsCa: join(bundleDir, 'ca.pem'),
    tls: { cert: join(bundleDir, 'tls-cert.pem'), key: join(bundleDir, 'tls-key.pem') },
    brokerConfig: join(bundleDir, 'nats-broker.conf'),
    brokerAddress: join(bundleDir, 'store-broker.json'),
  };
}

/** Node `node` (from 1) of a clustered hub: its configuration and the file it writes its process id to. */
export function hubNodeFiles(hqDataDir: string, node: number): { config: string; pidFile: string } {
  return { config: join(hqDataDir, `nats-server-${node}.conf`), pidFile: join(hqDataDir, `nats-server-${node}.pid`) };
}

/** Where a server's clients find it, recorded where provisioning or `nats-config` wrote its files. */
export interface RecordedAddress {
  url: string;
}

export function writeRecordedAddress(file: string, address: RecordedAddress): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(address, null, 2)}\n`);
}

/** What one POS terminal holds: its NATS credentials and its PIN key. */
export interface TerminalFiles {
  dir: string;
  /** NATS credentials of this terminal alone: it may publish only on its own POS subject. */
  natsCreds: string;
  /** The AES-128 key the terminal encrypts PIN blocks with (derived from the store's PIN master key). */
  pinKey: string;
}

function terminalFiles(dir: string): TerminalFiles {
  return { dir, natsCreds: join(dir, 'nats.nk'), pinKey: join(dir, 'pin-key') };
}
