// Store provisioning at head office: make a store's keys, NATS credentials and TLS certificate into a
// bundle for the store, keep their public halves in head office's directory, and regenerate the
// hub's accounts (one per store) and leaf logins from every principal provisioned so far.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_TERMINAL_ID, HQ_ORIGIN, StoreId, TerminalId, type NewDomainEvent } from '../../contracts/index.js';
import { generatePinKey, loadPinKey, savePinKey, terminalPinKey } from '../../contracts/index.js';
import { generateSigningKey, loadOrCreateSigningKey, rawPublicKey, saveSigningKey, type SigningKey } from '../../contracts/index.js';
import {
  generateSealingKey,
  loadOrCreateSealingKey,
  rawSealingPublicKey,
  saveSealingKey,
  type SealingKeyPair,
} from '../../contracts/index.js';
import { HEAD_OFFICE_PARTS, type HeadOfficePart, type NatsUser } from '../../infra/nats/index.js';
import { leafIdentityOf, natsAccountsConfig } from '../../infra/nats/index.js';
import { createCredentials, loadOrCreateCredentialsFile, writeCredentialsFile } from '../../infra/nats/index.js';
import { ensureCertificateAuthority, issueCertificate, LOCAL_HOSTS } from '../../infra/nats/index.js';
import { keysToJson, terminalKeysOf } from '../../card/index.js';
import {
  headOfficeFiles,
  storeBundleFiles,
  writeRecordedAddress,
  type HeadOfficeFiles,
  type StoreBundleFiles,
  type TerminalFiles,
} from './layout.js';
import { issuerKeysFile, loadOrCreateIssuerKeys } from './issuer-keys.js';
import { keyPairsOf, type KeyPair } from '../../contracts/key-pairs.js';

/** Public halves of head office's keys (raw keys in base64). */
export interface HeadOfficeRecord {
  signingKeyId: string;
  signingPublicKey: string;
  sealingKeyId: string;
  sealingPublicKey: string;
  /** Each part of head office is its own NATS principal. */
  natsPublicKeys: Record<HeadOfficePart, string>;
  auditorNatsPublicKey: string;
}

/** What head office keeps about a provisioned store: public halves only (raw keys in base64). */
export interface StoreRecord {
  storeId: string;
  name: string;
  nearbyStoreIds: string[];
  signingKeyId: string;
  signingPublicKey: string;
  sealingKeyId: string;
  sealingPublicKey: string;
  natsPublicKey: string;
  /** The store's POS terminals, each its own NATS principal. */
  terminals: TerminalRecord[];
  provisionedAt: string;
}

/** What head office keeps about one POS terminal of a store. */
export interface TerminalRecord {
  terminalId: string;
  natsPublicKey: string;
  provisionedAt: string;
}

export interface ProvisionedHeadOffice {
  files: HeadOfficeFiles;
  signingKey: SigningKey;
  sealingKey: SealingKeyPair;
  /** Signs the API's own bearer tokens. */
  apiTokenKey: KeyPair;
  record: HeadOfficeRecord;
  /** True when this call made any of head office's keys or files. */
  created: boolean;
  /** StoreKeyRegistered for origin "hq": for the hq stream, unless it already holds this key id. */
  events: NewDomainEvent[];
}

export interface ProvisionStoreOptions {
  hqDataDir: string;
  storeId: string;
  name: string;
  nearbyStoreIds?: string[];
  /** Where the store's bundle goes; `<hqDataDir>/bundles/<storeId>` when omitted. */
  bundleDir?: string;
  /** Names and addresses the store's clients reach its broker by (its TLS certificate); this machine's when omitted. */
  brokerHosts?: string[];
  /** Where the store's edge and POS terminals reach its broker, recorded in the bundle; `nats://<first broker host>:4222` when omitted. */
  brokerUrl?: string;
  /** The store's POS terminals, each with its own credentials and PIN key; `pos-1` when omitted. */
  terminals?: string[];
}

export interface ProvisionedStore {
  record: StoreRecord;
  bundleDir: string;
  bundle: StoreBundleFiles;
  /** StoreRegistered and StoreKeyRegistered, for head office's event log. */
  events: NewDomainEvent[];
  /** The regenerated accounts block of the hub, now with the store's account. */
  natsAuthConfigFile: string;
}

export class ProvisioningError extends Error {
  override name = 'ProvisioningError';
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** Written whole or not at all: a running head office watching the directory never reads half a record. */
function writeJson(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  const partial = join(dirname(file), `.${basename(file)}.partial`);
  writeFileSync(partial, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(partial, file);
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new ProvisioningError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));

function storeKeyRegistered(
  origin: string,
  keys: { signingKeyId: string; signingPublicKey: string; sealingPublicKey: string },
): NewDomainEvent {
  return {
    type: 'StoreKeyRegistered',
    data: {
      storeId: origin,
      keyId: keys.signingKeyId,
      publicKey: fromBase64(keys.signingPublicKey),
      sealingPublicKey: fromBase64(keys.sealingPublicKey),
    },
  };
}

/** What head office's event log records about a provisioned store. */
export function storeRegistrationEvents(record: StoreRecord): NewDomainEvent[] {
  return [
    { type: 'StoreRegistered', data: { storeId: record.storeId, name: record.name, nearbyStoreIds: record.nearbyStoreIds } },
    storeKeyRegistered(record.storeId, record),
  ];
}

const apiTokenKeys = keyPairsOf('ed25519', 'API token signing', (message) => new ProvisioningError(message));

/** Head office's API token key (`<hq>/keys/api-token-key.pem`, mode 0600), made on first use. */
export function loadOrCreateApiTokenKey(hqDataDir: string): { key: KeyPair; created: boolean } {
  return apiTokenKeys.loadOrCreate(headOfficeFiles(hqDataDir).apiTokenKey);
}

/** Head office's own keys, NATS credentials of each of its parts and its TLS CA, made on first use; idempotent. */
export function provisionHeadOffice(options: { hqDataDir: string }): ProvisionedHeadOffice {
  const files = headOfficeFiles(options.hqDataDir);
  const signing = loadOrCreateSigningKey(files.signingKey);
  const sealing = loadOrCreateSealingKey(files.sealingKey);
  const apiToken = loadOrCreateApiTokenKey(options.hqDataDir);
  const parts = HEAD_OFFICE_PARTS.map((part) => ({ part, ...loadOrCreateCredentialsFile(files.natsCreds[part], { role: 'hq', part }) }));
  const auditor = loadOrCreateCredentialsFile(files.auditorCreds, { role: 'auditor' });
  const ca = ensureCertificateAuthority(files.tlsCa);
  const record: HeadOfficeRecord = {
    signingKeyId: signing.key.keyId,
    signingPublicKey: base64(rawPublicKey(signing.key.publicKey)),
    sealingKeyId: sealing.key.keyId,
    sealingPublicKey: base64(rawSealingPublicKey(sealing.key.publicKey)),
    natsPublicKeys: Object.fromEntries(parts.map(({ part, credentials }) => [part, credentials.publicKey])) as Record<
      HeadOfficePart,
      string
    >,
    auditorNatsPublicKey: auditor.credentials.publicKey,
  };
  const created =
    signing.created ||
    sealing.created ||
    apiToken.created ||
    parts.some((part) => part.created) ||
    auditor.created ||
    ca.created ||
    !existsSync(files.record);
  if (created) {
    writeJson(files.record, record);
    writeNatsAuthConfig(options.hqDataDir);
  }
  return {
    files,
    signingKey: signing.key,
    sealingKey: sealing.key,
    apiTokenKey: apiToken.key,
    record,
    created,
    events: [storeKeyRegistered(HQ_ORIGIN, record)],
  };
}

function parseStoreId(what: string, id: string): string {
  const parsed = StoreId.safeParse(id);
  if (!parsed.success) throw new ProvisioningError(`${what} "${id}": ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

function parseTerminalId(id: string): string {
  const parsed = TerminalId.safeParse(id);
  if (!parsed.success) throw new ProvisioningError(`terminal id "${id}": ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

function checkedTerminals(ids: string[] | undefined): string[] {
  const terminals = (ids?.length ? ids : [DEFAULT_TERMINAL_ID]).map(parseTerminalId);
  const duplicate = terminals.find((id, index) => terminals.indexOf(id) !== index);
  if (duplicate) throw new ProvisioningError(`terminal ${duplicate} is listed twice`);
  return terminals;
}

function checkedOptions(options: ProvisionStoreOptions): { storeId: string; name: string; nearbyStoreIds: string[] } {
  const storeId = parseStoreId('store id', options.storeId);
  const name = options.name.trim();
  if (name.length === 0 || name.length > 200)
    throw new ProvisioningError(`store name must be 1-200 characters, got ${JSON.stringify(options.name)}`);
  const nearbyStoreIds = (options.nearbyStoreIds ?? []).map((id) => parseStoreId('nearby store id', id));
  if (nearbyStoreIds.includes(storeId)) throw new ProvisioningError(`store ${storeId} cannot be its own nearby store`);
  const duplicate = nearbyStoreIds.find((id, index) => nearbyStoreIds.indexOf(id) !== index);
  if (duplicate) throw new ProvisioningError(`nearby store ${duplicate} is listed twice`);
  return { storeId, name, nearbyStoreIds };
}

function storeRecordFile(hqDataDir: string, storeId: string): string {
  return join(headOfficeFiles(hqDataDir).directory, `${storeId}.json`);
}

/** Makes a new store's bundle and registers its public halves; refuses a store already provisioned. */
export function provisionStore(options: ProvisionStoreOptions): ProvisionedStore {
  const { storeId, name, nearbyStoreIds } = checkedOptions(options);
  const terminalIds = checkedTerminals(options.terminals);
  const recordFile = storeRecordFile(options.hqDataDir, storeId);
  if (existsSync(recordFile)) {
    throw new ProvisioningError(`store ${storeId} is already provisioned (${recordFile}); its keys are never replaced`);
  }
  const bundleDir = options.bundleDir ?? join(options.hqDataDir, 'bundles', storeId);
  const bundle = storeBundleFiles(bundleDir);
  const occupied = [
    bundle.signingKey,
    bundle.sealingKey,
    bundle.natsCreds,
    bundle.pinMasterKey,
    bundle.terminalKeys,
    bundle.tls.key,
    ...terminalIds.map((id) => bundle.terminal(id).dir),
  ].filter((file) => existsSync(file));
  if (occupied.length > 0) {
    throw new ProvisioningError(`the bundle folder ${bundleDir} already holds keys (${occupied.join(', ')}); choose an empty folder`);
  }
  const headOffice = provisionHeadOffice({ hqDataDir: options.hqDataDir });

  const signingKey = generateSigningKey();
  const sealingKey = generateSealingKey();
  const natsCreds = createCredentials({ role: 'store', storeId });
  saveSigningKey(signingKey, bundle.signingKey);
  saveSealingKey(sealingKey, bundle.sealingKey);
  writeCredentialsFile(bundle.natsCreds, natsCreds);
  const pinMasterKey = generatePinKey();
  savePinKey(pinMasterKey, bundle.pinMasterKey);
  const terminals = terminalIds.map((terminalId) => makeTerminal(bundle, storeId, terminalId, pinMasterKey));
  writeFileSync(bundle.hqSealingPublicKey, headOffice.sealingKey.publicKey.export({ format: 'pem', type: 'spki' }));
  writeFileSync(bundle.hqSigningPublicKey, headOffice.signingKey.publicKey.export({ format: 'pem', type: 'spki' }));
  // Terminal keys let the store's terminals talk to cards; the credit key stays at head office.
  const issuerKeys = loadOrCreateIssuerKeys(issuerKeysFile(options.hqDataDir)).keys;
  writeFileSync(bundle.terminalKeys, `${JSON.stringify(keysToJson(terminalKeysOf(issuerKeys)), null, 2)}\n`, { mode: 0o600 });
  // One certificate: the broker's on the shop LAN, and (by the URI it carries) its leaf login at the hub.
  issueCertificate(headOffice.files.tlsCa, bundle.tls, {
    commonName: `store ${storeId}`,
    hosts: options.brokerHosts?.length ? options.brokerHosts : LOCAL_HOSTS,
    uris: [leafIdentityOf(storeId)],
    clientAuth: true,
  });
  copyFileSync(headOffice.files.tlsCa.cert, bundle.tlsCa);
  const brokerHost = (options.brokerHosts?.length ? options.brokerHosts : LOCAL_HOSTS)[0]!;
  writeRecordedAddress(bundle.brokerAddress, {
    url: options.brokerUrl ?? `nats://${brokerHost.includes(':') ? `[${brokerHost}]` : brokerHost}:4222`,
  });

  const record = storeRecordOf(
    { storeId, name, nearbyStoreIds },
    { signingKey, sealingKey, natsPublicKey: natsCreds.publicKey },
    terminals,
  );
  writeJson(bundle.record, { store: record, headOffice: headOffice.record });
  // The directory record goes last: its presence is what marks the store provisioned.
  writeStoreRecord(options.hqDataDir, record);
  const natsAuthConfigFile = writeNatsAuthConfig(options.hqDataDir);

  return {
    record,
    bundleDir,
    bundle,
    events: storeRegistrationEvents(record),
    natsAuthConfigFile,
  };
}

/** The public record of a store with these keys, as head office's directory keeps it. */
export function storeRecordOf(
  store: { storeId: string; name: string; nearbyStoreIds: string[] },
  keys: { signingKey: SigningKey; sealingKey: SealingKeyPair; natsPublicKey: string },
  terminals: TerminalRecord[],
): StoreRecord {
  return {
    ...store,
    signingKeyId: keys.signingKey.keyId,
    signingPublicKey: base64(rawPublicKey(keys.signingKey.publicKey)),
    sealingKeyId: keys.sealingKey.keyId,
    sealingPublicKey: base64(rawSealingPublicKey(keys.sealingKey.publicKey)),
    natsPublicKey: keys.natsPublicKey,
    terminals,
    provisionedAt: new Date().toISOString(),
  };
}

/**
 * Puts a store's record into head office's directory, which marks it provisioned (a running head
 * office registers it). The hub admits the store once its accounts are regenerated (writeNatsAuthConfig).
 */
export function writeStoreRecord(hqDataDir: string, record: StoreRecord): void {
  writeJson(storeRecordFile(hqDataDir, record.storeId), record);
}

/** A terminal's NATS credentials and PIN key (derived from the store's PIN master key) in the store's bundle. */
function makeTerminal(bundle: StoreBundleFiles, storeId: string, terminalId: string, pinMasterKey: Uint8Array): TerminalRecord {
  const files = bundle.terminal(terminalId);
  const credentials = createCredentials({ role: 'pos', storeId, terminalId });
  writeCredentialsFile(files.natsCreds, credentials);
  savePinKey(terminalPinKey(pinMasterKey, storeId, terminalId), files.pinKey);
  return { terminalId, natsPublicKey: credentials.publicKey, provisionedAt: new Date().toISOString() };
}

export interface ProvisionTerminalOptions {
  hqDataDir: string;
  storeId: string;
  terminalId: string;
  /** The store's bundle; `<hqDataDir>/bundles/<storeId>` when omitted. */
  bundleDir?: string;
}

export interface ProvisionedTerminal {
  record: TerminalRecord;
  files: TerminalFiles;
  natsAuthConfigFile: string;
}

/**
 * Adds a POS terminal to a provisioned store: its own NATS credentials and PIN key in the store's
 * bundle, its public key in head office's directory; refuses a terminal already provisioned.
 */
export function provisionTerminal(options: ProvisionTerminalOptions): ProvisionedTerminal {
  const storeId = parseStoreId('store id', options.storeId);
  const terminalId = parseTerminalId(options.terminalId);
  const recordFile = storeRecordFile(options.hqDataDir, storeId);
  if (!existsSync(recordFile)) throw new ProvisioningError(`store ${storeId} is not provisioned (no ${recordFile})`);
  const record = readJson<StoreRecord>(recordFile);
  const terminals = terminalsOf(record);
  if (terminals.some((terminal) => terminal.terminalId === terminalId))
    throw new ProvisioningError(`terminal ${terminalId} of store ${storeId} is already provisioned; its keys are never replaced`);
  const bundleDir = options.bundleDir ?? join(options.hqDataDir, 'bundles', storeId);
  const bundle = storeBundleFiles(bundleDir);
  if (!existsSync(bundle.record))
    throw new ProvisioningError(`${bundleDir} is not store ${storeId}'s bundle (no ${bundle.record}); name it with the bundle folder`);
  const files = bundle.terminal(terminalId);
  if (existsSync(files.dir)) throw new ProvisioningError(`${files.dir} already exists; remove it or choose another terminal id`);
  // A store provisioned before terminals had PIN keys gets its PIN master key now.
  if (!existsSync(bundle.pinMasterKey)) savePinKey(generatePinKey(), bundle.pinMasterKey);
  const terminal = makeTerminal(bundle, storeId, terminalId, loadPinKey(bundle.pinMasterKey));
  const updated: StoreRecord = { ...record, terminals: [...terminals, terminal] };
  const bundleRecord = readJson<{ store: StoreRecord; headOffice: HeadOfficeRecord }>(bundle.record);
  writeJson(bundle.record, { ...bundleRecord, store: updated });
  writeJson(recordFile, updated);
  return { record: terminal, files, natsAuthConfigFile: writeNatsAuthConfig(options.hqDataDir) };
}

/** A store's terminals; none in a record written before terminals had identities of their own. */
function terminalsOf(record: StoreRecord): TerminalRecord[] {
  return record.terminals ?? [];
}

/** Every provisioned store's public record, by store id; with `except`, only those of other stores. */
export function provisionedStores(hqDataDir: string, except?: ReadonlySet<string>): StoreRecord[] {
  const directory = headOfficeFiles(hqDataDir).directory;
  if (!existsSync(directory)) return [];
  return readdirSync(directory)
    .filter((file) => file.endsWith('.json') && !file.startsWith('.') && !except?.has(file.slice(0, -'.json'.length)))
    .sort()
    .map((file) => readJson<StoreRecord>(join(directory, file)));
}

/** The NATS users of every provisioned principal: head office's parts, auditor, each store and its POS terminals. */
export function provisionedNatsUsers(hqDataDir: string): NatsUser[] {
  const recordFile = headOfficeFiles(hqDataDir).record;
  if (!existsSync(recordFile)) throw new ProvisioningError(`head office is not provisioned yet in ${hqDataDir} (no ${recordFile})`);
  const hq = readJson<HeadOfficeRecord>(recordFile);
  if (!hq.natsPublicKeys)
    throw new ProvisioningError(
      `${recordFile} predates head office's per-part NATS credentials; run "cardsys host nats-config" to renew it`,
    );
  return [
    ...HEAD_OFFICE_PARTS.map((part): NatsUser => ({ principal: { role: 'hq', part }, publicKey: hq.natsPublicKeys[part] })),
    { principal: { role: 'auditor' }, publicKey: hq.auditorNatsPublicKey },
    ...provisionedStores(hqDataDir).flatMap(storeNatsUsers),
  ];
}

/** A store's edge and each of its POS terminals, as NATS users. */
export function storeNatsUsers(store: StoreRecord): NatsUser[] {
  return [
    { principal: { role: 'store', storeId: store.storeId }, publicKey: store.natsPublicKey },
    ...terminalsOf(store).map(
      (terminal): NatsUser => ({
        principal: { role: 'pos', storeId: store.storeId, terminalId: terminal.terminalId },
        publicKey: terminal.natsPublicKey,
      }),
    ),
  ];
}

/**
 * Regenerates the hub's accounts (`<hqDataDir>/nats-auth.conf`: every provisioned principal, each
 * store's leaf login) in one step, so a hub reloading meanwhile reads the old file or the new one;
 * returns its path.
 */
export function writeNatsAuthConfig(hqDataDir: string): string {
  const files = headOfficeFiles(hqDataDir);
  mkdirSync(dirname(files.natsAuthConfig), { recursive: true });
  const partial = `${files.natsAuthConfig}.partial`;
  writeFileSync(partial, natsAccountsConfig(provisionedNatsUsers(hqDataDir)));
  renameSync(partial, files.natsAuthConfig);
  return files.natsAuthConfig;
}
