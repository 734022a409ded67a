// What a process's --data (and --store) imply for its NATS connection: the server's address, the
// credentials and the CA, each from a flag or from the files provisioning made, and, when they
// are missing or refused, which flag or file the operator has to give.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { ConnectionOptions } from '@nats-io/transport-node';
import {
  HEAD_OFFICE_PARTS,
  isUnreachable,
  natsConnectOptions,
  natsTlsOptions,
  readCredentialsFile,
  type HeadOfficePart,
} from '../../infra/nats/index.js';
import { headOfficeFiles, storeBundleFiles, type RecordedAddress } from './layout.js';
import { ProvisioningError, type StoreRecord } from './provision.js';

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';

/** What the command line (or its environment and configuration file) said; undefined where it said nothing. */
export interface NatsFlags {
  nats?: string;
  creds?: string;
  tlsCa?: string;
}

/** A file a connection uses, and how it was found. */
export interface FoundFile {
  file: string;
  /** "--creds", "--tls-ca", or "provisioned". */
  from: string;
}

export interface NatsClientSettings {
  url: string;
  /** "--nats", or the file the address was recorded in, or "default". */
  urlFrom: string;
  /** The CA the server's certificate is verified with. */
  tlsCa: FoundFile | undefined;
  /** Says what to do about a failed connection: the flag or file to give. */
  explain(error: Error): string;
}

export interface StoreClientSettings extends NatsClientSettings {
  creds: FoundFile | undefined;
  options: Partial<ConnectionOptions>;
}

export interface HeadOfficeClientSettings extends NatsClientSettings {
  credsOf(part: HeadOfficePart): FoundFile | undefined;
  options(part: HeadOfficePart): Partial<ConnectionOptions>;
}

function recordedAddress(file: string): RecordedAddress | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<RecordedAddress>;
    if (typeof parsed.url === 'string' && parsed.url.length > 0) return { url: parsed.url };
  } catch {}
  throw new ProvisioningError(`${file} does not record a NATS address ({"url": "nats://host:port"}); write it again or pass --nats`);
}

/** The client URL of a server listening on "host:port": wildcard hosts are reached on this machine. */
export function clientUrlOf(listen: string): string {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  if (!match) throw new ProvisioningError(`expected <host:port>, got "${listen}"`);
  const host = match[1] ?? match[2] ?? '';
  const reachable = ['', '0.0.0.0', '::'].includes(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `nats://${reachable}:${match[3]}`;
}

function urlOf(flags: NatsFlags, recordFile: string): { url: string; urlFrom: string } {
  if (flags.nats) return { url: flags.nats, urlFrom: '--nats' };
  const recorded = recordedAddress(recordFile);
  if (recorded) return { url: recorded.url, urlFrom: resolve(recordFile) };
  return { url: DEFAULT_NATS_URL, urlFrom: 'default' };
}

const AUTHORIZATION = /authori[sz]ation|permissions? violation|user authentication/i;
const TLS = /certificate|tls|ssl|self[- ]signed|unable to verify/i;

interface Explanation {
  url: string;
  urlFrom: string;
  /** Whose login this is, e.g. "store A's edge". */
  who: string;
  /** Where the credentials came from, or where they would have been looked for. */
  creds: FoundFile | undefined;
  credsLookedFor: string;
  tlsCa: FoundFile | undefined;
  caLookedFor: string;
  /** The servers that admit this login. */
  servers: string;
}

function explanation(e: Explanation): (error: Error) => string {
  return (error) => {
    const reason = error.message;
    const at = `NATS at ${e.url}${e.urlFrom === '--nats' ? '' : ` (${e.urlFrom === 'default' ? 'the default; --nats names another' : `from ${e.urlFrom}`})`}`;
    if (AUTHORIZATION.test(reason)) {
      if (!e.creds)
        return `${at} refused ${e.who} (${reason}): no credentials were given; pass --creds <file> or provide ${e.credsLookedFor} (from head office's provisioning)`;
      return `${at} refused ${e.who}'s credentials ${e.creds.file} (${e.creds.from === 'provisioned' ? 'found in --data' : 'given by --creds, NATS_CREDS or --config'}: ${reason}); they are admitted only by ${e.servers}`;
    }
    if (TLS.test(reason) || (error as { code?: string }).code?.includes('CERT')) {
      return e.tlsCa
        ? `${at}: its TLS certificate does not verify with the CA ${e.tlsCa.file} (${e.tlsCa.from}): ${reason}`
        : `${at} needs TLS verified with head office's CA: pass --tls-ca <file> or provide ${e.caLookedFor} (${reason})`;
    }
    if (isUnreachable(error) || /closed/i.test(reason)) return `cannot reach ${at}: ${reason}; is the server running there?`;
    return `cannot connect to ${at}: ${reason}`;
  };
}

/**
 * TLS verified with the CA, and against the address dialled: nats.js names no server for an IP
 * address, and Node then checks the certificate against "localhost" instead of that address.
 */
function tlsFor(url: string, caFile: string | undefined): Pick<ConnectionOptions, 'tls'> {
  const tls = natsTlsOptions(caFile);
  let host = '';
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {}
  return tls.tls && isIP(host) ? { tls: { ...tls.tls, host } as NonNullable<ConnectionOptions['tls']> } : tls;
}

/** A provisioned file the flag did not replace; refused when provisioning meant it to be there. */
function provisionedFile(flag: string | undefined, flagName: string, file: string, needed: boolean, whose: string): FoundFile | undefined {
  if (flag) {
    if (!existsSync(flag)) throw new ProvisioningError(`${flagName} ${flag}: no such file`);
    return { file: resolve(flag), from: flagName };
  }
  if (existsSync(file)) return { file: resolve(file), from: 'provisioned' };
  if (needed)
    throw new ProvisioningError(
      `${whose} needs ${resolve(file)}, which is missing: copy it from head office's provisioning, or pass ${flagName} <file>`,
    );
  return undefined;
}

/** Who of a store connects: its edge, or one of its POS terminals. */
export type StoreClient = 'store' | { terminal: string };

const whoOf = (storeId: string, who: StoreClient) => `store ${storeId}'s ${who === 'store' ? 'edge' : `terminal ${who.terminal}`}`;

/** The store's public record from its bundle, when the bundle holds one. */
export function bundleRecord(bundleDir: string): StoreRecord | undefined {
  const file = storeBundleFiles(bundleDir).record;
  if (!existsSync(file)) return undefined;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { store: StoreRecord }).store;
  } catch (error) {
    throw new ProvisioningError(`cannot read the store's record ${file}: ${(error as Error).message}`);
  }
}

/**
 * How a store's edge (`store`) or one of its POS terminals connects: --nats, else the
 * broker address provisioning recorded in the bundle; --creds and --tls-ca, else the bundle's. In a
 * provisioned bundle (store.json present) a missing credentials file or CA is an error naming it.
 */
export function storeClientSettings(bundleDir: string, storeId: string, who: StoreClient, flags: NatsFlags): StoreClientSettings {
  const bundle = storeBundleFiles(bundleDir);
  const provisioned = existsSync(bundle.record);
  const whose = whoOf(storeId, who);
  const credsFile = who === 'store' ? bundle.natsCreds : bundle.terminal(who.terminal).natsCreds;
  const creds = provisionedFile(flags.creds, '--creds', credsFile, provisioned, whose);
  const tlsCa = provisionedFile(flags.tlsCa, '--tls-ca', bundle.tlsCa, provisioned, whose);
  const { url, urlFrom } = urlOf(flags, bundle.brokerAddress);
  return {
    url,
    urlFrom,
    creds,
    tlsCa,
    options: { ...natsConnectOptions(creds?.file), ...tlsFor(url, tlsCa?.file) },
    explain: explanation({
      url,
      urlFrom,
      who: whose,
      creds,
      credsLookedFor: resolve(credsFile),
      tlsCa,
      caLookedFor: resolve(bundle.tlsCa),
      servers: `store ${storeId}'s broker and head office's hub (reloaded since the store was provisioned)`,
    }),
  };
}

/**
 * The edge's credentials must be the store's edge's: a POS terminal's (or another store's) would
 * be refused everything the edge does, and the edge would run on, logging permission errors.
 */
export function checkEdgeCredentials(bundleDir: string, storeId: string, creds: FoundFile | undefined): void {
  const record = bundleRecord(bundleDir);
  if (!record || !creds) return;
  const publicKey = readCredentialsFile(creds.file).publicKey;
  if (publicKey === record.natsPublicKey) return;
  const terminal = (record.terminals ?? []).find((t) => t.natsPublicKey === publicKey);
  const whose = terminal
    ? `store ${storeId}'s terminal ${terminal.terminalId}'s`
    : `not store ${storeId}'s edge's (nor one of its terminals')`;
  throw new ProvisioningError(
    `the NATS credentials ${creds.file} (${creds.from === 'provisioned' ? 'found in --data' : 'given by --creds, NATS_CREDS or --config'}) are ${whose}: ` +
      `store ${storeId}'s edge logs in as ${record.natsPublicKey} with ${resolve(storeBundleFiles(bundleDir).natsCreds)}`,
  );
}

/** How each part of head office connects: --nats or the hub's address `nats-config` recorded; each part's own credentials. */
export function headOfficeClientSettings(hqDataDir: string, flags: NatsFlags): HeadOfficeClientSettings {
  const files = headOfficeFiles(hqDataDir);
  const provisioned = existsSync(files.record);
  const tlsCa = provisionedFile(flags.tlsCa, '--tls-ca', files.tlsCa.cert, provisioned, 'head office');
  const creds = Object.fromEntries(
    HEAD_OFFICE_PARTS.map((part) => [
      part,
      provisionedFile(flags.creds, '--creds', files.natsCreds[part], provisioned, `head office's ${part}`),
    ]),
  ) as Record<HeadOfficePart, FoundFile | undefined>;
  const { url, urlFrom } = urlOf(flags, files.hubAddress);
  const tls = tlsFor(url, tlsCa?.file);
  return {
    url,
    urlFrom,
    tlsCa,
    credsOf: (part) => creds[part],
    options: (part) => ({ ...natsConnectOptions(creds[part]?.file), ...tls }),
    explain: explanation({
      url,
      urlFrom,
      who: 'head office',
      creds: flags.creds ? creds.api : creds.api && { file: resolve(dirname(creds.api.file), 'nats-<part>.nk'), from: 'provisioned' },
      credsLookedFor: resolve(dirname(files.natsCreds.api), 'nats-<part>.nk'),
      tlsCa,
      caLookedFor: resolve(files.tlsCa.cert),
      servers: `head office's hub (its configuration from "cardsys host nats-config")`,
    }),
  };
}
