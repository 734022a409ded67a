import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, loadPublicKey, loadSigningKey, rawPublicKey } from '../../contracts/index.js';
import {
  loadSealingKey,
  loadSealingPublicKey,
  openSealed,
  rawSealingPublicKey,
  seal,
  sealingPublicKeyFromRaw,
} from '../../contracts/index.js';
import {
  headOfficeFiles,
  provisionHeadOffice,
  provisionStore,
  ProvisioningError,
  type ProvisionedStore,
} from '../../host/provisioning/index.js';
import { natsConnectOptions, natsServerBinary, readCredentialsFile } from '../../infra/nats/index.js';

let root: string;
let hqDataDir: string;
let storeA: ProvisionedStore;

const mode = (file: string) => statSync(file).mode & 0o777;
const filesUnder = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-provisioning-'));
  hqDataDir = join(root, 'hq');
  storeA = provisionStore({ hqDataDir, storeId: 'A', name: 'Store A', nearbyStoreIds: ['B', 'C'], bundleDir: join(root, 'bundle-A') });
});

afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('provisionStore', () => {
  it('writes the bundle with every secret readable by its owner only', () => {
    const { bundle } = storeA;
    for (const secret of [bundle.signingKey, bundle.sealingKey, bundle.natsCreds, bundle.posCreds, bundle.terminalKeys, bundle.tls.key])
      expect(mode(secret), secret).toBe(0o600);
    // A store's terminals get what they need to talk to cards, never the keys that mint or vouch for money.
    expect(Object.keys(JSON.parse(readFileSync(bundle.terminalKeys, 'utf8'))).sort()).toEqual([
      'authCode',
      'data',
      'keyVersion',
      'terminal',
    ]);
    expect(loadSigningKey(bundle.signingKey).keyId).toBe(storeA.record.signingKeyId);
    expect(loadSealingKey(bundle.sealingKey).keyId).toBe(storeA.record.sealingKeyId);
    expect(readCredentialsFile(bundle.natsCreds)).toMatchObject({
      principal: 'store A',
      inboxPrefix: '_INBOX_A',
      publicKey: storeA.record.natsPublicKey,
    });
    expect(readCredentialsFile(bundle.posCreds)).toMatchObject({
      principal: 'pos A',
      inboxPrefix: '_INBOX.pos.A',
      publicKey: storeA.record.posNatsPublicKey,
    });
  });

  it('returns StoreRegistered and StoreKeyRegistered with the public halves', () => {
    const signing = loadSigningKey(storeA.bundle.signingKey);
    const sealing = loadSealingKey(storeA.bundle.sealingKey);
    expect(storeA.events).toEqual([
      { type: 'StoreRegistered', data: { storeId: 'A', name: 'Store A', nearbyStoreIds: ['B', 'C'] } },
      {
        type: 'StoreKeyRegistered',
        data: {
          storeId: 'A',
          keyId: keyIdOf(signing.publicKey),
          publicKey: rawPublicKey(signing.publicKey),
          sealingPublicKey: rawSealingPublicKey(sealing.publicKey),
        },
      },
    ]);
  });

  it("keeps only public halves at head office, and the store's key opens what head office seals to the record", () => {
    const directoryText = filesUnder(join(hqDataDir, 'directory'))
      .map((file) => readFileSync(file, 'utf8'))
      .join('\n');
    expect(directoryText).not.toMatch(/PRIVATE KEY|\bSU[A-Z2-7]{56}\b/);
    expect(directoryText).toContain(storeA.record.sealingPublicKey);
    const recipient = sealingPublicKeyFromRaw(new Uint8Array(Buffer.from(storeA.record.sealingPublicKey, 'base64')));
    const context = { purpose: 'issuance-lookup', recipient: 'A' };
    const opened = openSealed(loadSealingKey(storeA.bundle.sealingKey).privateKey, context, seal(recipient, context, Buffer.from('reply')));
    expect(Buffer.from(opened).toString()).toBe('reply');
  });

  it("gives the store head office's public keys, so its issuance records open at head office", () => {
    const headOffice = provisionHeadOffice({ hqDataDir });
    const context = { purpose: 'issued-record', recipient: 'hq' };
    const blob = seal(loadSealingPublicKey(storeA.bundle.hqSealingPublicKey), context, Buffer.from('written record'));
    expect(Buffer.from(openSealed(headOffice.sealingKey.privateKey, context, blob)).toString()).toBe('written record');
    expect(keyIdOf(loadPublicKey(storeA.bundle.hqSigningPublicKey))).toBe(headOffice.signingKey.keyId);
  });

  it('regenerates the NATS authorization block with every provisioned principal', () => {
    const before = readFileSync(storeA.natsAuthConfigFile, 'utf8');
    expect(before).toContain(storeA.record.natsPublicKey);
    const storeB = provisionStore({ hqDataDir, storeId: 'B', name: 'Store B', bundleDir: join(root, 'bundle-B') });
    const after = readFileSync(storeB.natsAuthConfigFile, 'utf8');
    for (const key of [
      storeA.record.natsPublicKey,
      storeA.record.posNatsPublicKey,
      storeB.record.natsPublicKey,
      storeB.record.posNatsPublicKey,
    ]) {
      expect(after).toContain(`nkey: "${key}"`);
    }
    // Head office's five parts, the auditor, and each store's edge and POS terminals, each store in its own account.
    expect(after.match(/nkey: "U/g)).toHaveLength(10);
    expect(after).toMatch(/"A": \{/);
    expect(after).toMatch(/"B": \{/);
  });

  it('never replaces a provisioned store, nor writes into a folder that holds keys', () => {
    expect(() => provisionStore({ hqDataDir, storeId: 'A', name: 'Again', bundleDir: join(root, 'other') })).toThrow(
      /store A is already provisioned .*its keys are never replaced/,
    );
    expect(() => provisionStore({ hqDataDir, storeId: 'Z', name: 'Z', bundleDir: join(root, 'bundle-A') })).toThrow(
      /the bundle folder .*bundle-A already holds keys/,
    );
  });

  it('refuses bad input with a message naming it', () => {
    const attempt = (options: { storeId?: string; name?: string; nearbyStoreIds?: string[] }) => () =>
      provisionStore({ hqDataDir, storeId: 'N', name: 'N', bundleDir: join(root, 'bad'), ...options });
    expect(attempt({ storeId: 'a.b' })).toThrow('store id "a.b": store id must be 1-32 letters, digits, "-" or "_"');
    expect(attempt({ storeId: 'hq' })).toThrow('store id "hq": store id "hq" is reserved for head office');
    expect(attempt({ nearbyStoreIds: ['ok', 'no way'] })).toThrow('nearby store id "no way"');
    expect(attempt({ nearbyStoreIds: ['N'] })).toThrow('store N cannot be its own nearby store');
    expect(attempt({ nearbyStoreIds: ['B', 'B'] })).toThrow('nearby store B is listed twice');
    expect(attempt({ name: '  ' })).toThrow(ProvisioningError);
  });
});

describe('provisionHeadOffice', () => {
  it("is idempotent and records head office's keys for the hq origin", () => {
    const first = provisionHeadOffice({ hqDataDir });
    const second = provisionHeadOffice({ hqDataDir });
    expect(second.created).toBe(false);
    expect(second.record).toEqual(first.record);
    expect(second.events).toEqual([
      {
        type: 'StoreKeyRegistered',
        data: {
          storeId: 'hq',
          keyId: first.signingKey.keyId,
          publicKey: rawPublicKey(first.signingKey.publicKey),
          sealingPublicKey: rawSealingPublicKey(first.sealingKey.publicKey),
        },
      },
    ]);
    const secrets = [
      first.files.signingKey,
      first.files.sealingKey,
      first.files.apiTokenKey,
      ...Object.values(first.files.natsCreds),
      first.files.auditorCreds,
      first.files.tlsCa.key,
    ];
    for (const secret of secrets) expect(mode(secret), secret).toBe(0o600);
    // Each part of head office is its own NATS principal.
    expect(new Set(Object.values(first.record.natsPublicKeys)).size).toBe(5);
    expect(second.apiTokenKey.keyId).toBe(first.apiTokenKey.keyId);
    expect(first.apiTokenKey.keyId).not.toBe(first.signingKey.keyId);
  });
});

describe('credential files', () => {
  it('give connect() the nkey authenticator and the inbox prefix', () => {
    const options = natsConnectOptions(storeA.bundle.natsCreds);
    expect(options.inboxPrefix).toBe('_INBOX_A');
    expect(typeof options.authenticator).toBe('function');
    expect(natsConnectOptions(undefined)).toEqual({});
    expect(natsConnectOptions(headOfficeFiles(hqDataDir).natsCreds.responder).inboxPrefix).toBe('_INBOX.hq.responder');
  });

  it('refuse a missing file, a file without a seed and a damaged seed, naming the file', () => {
    const dir = join(root, 'creds');
    mkdirSync(dir, { recursive: true });
    expect(() => readCredentialsFile(join(dir, 'absent.nk'))).toThrow(/cannot read NATS credentials file .*absent\.nk: ENOENT/);
    writeFileSync(join(dir, 'empty.nk'), '# nothing here\n');
    expect(() => readCredentialsFile(join(dir, 'empty.nk'))).toThrow(
      /empty\.nk is not a cardsys NATS credentials file: expected one nkey user seed line/,
    );
    const seedLine = readFileSync(storeA.bundle.natsCreds, 'utf8').match(/^SU[A-Z2-7]+$/m)![0];
    const damaged = seedLine.slice(0, 20) + (seedLine[20] === 'A' ? 'B' : 'A') + seedLine.slice(21);
    writeFileSync(join(dir, 'damaged.nk'), `${damaged}\n`);
    expect(() => readCredentialsFile(join(dir, 'damaged.nk'))).toThrow(/damaged\.nk: the nkey seed is damaged/);
  });
});

describe('cardsys host provision-store / nats-config', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(process.cwd(), 'bin', 'cardsys.js'), ...args], { cwd: root, encoding: 'utf8' });

  it('provision a store into <data>/stores/<id> and write a configuration nats-server accepts', () => {
    const provisioned = cli('host', 'provision-store', '--store', 'S1', '--name', 'Shop 1', '--nearby', 'S2, S3', '--data', 'data');
    expect(provisioned.stdout).toContain('store S1 provisioned');
    expect(provisioned.status).toBe(0);
    expect(mode(join(root, 'data', 'stores', 'S1', 'store.nk'))).toBe(0o600);
    const record = JSON.parse(readFileSync(join(root, 'data', 'hq', 'directory', 'stores', 'S1.json'), 'utf8'));
    expect(record).toMatchObject({ storeId: 'S1', name: 'Shop 1', nearbyStoreIds: ['S2', 'S3'] });

    const again = cli('host', 'provision-store', '--store', 'S1', '--name', 'Shop 1', '--data', 'data');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('cardsys: store S1 is already provisioned');

    const configured = cli('host', 'nats-config', '--data', 'data', '--listen', '127.0.0.1:14222');
    expect(configured.status).toBe(0);
    const configFile = join(root, 'data', 'hq', 'nats-server.conf');
    // The store's account, included from the file provisioning regenerates.
    expect(readFileSync(configFile, 'utf8')).toContain('include "nats-auth.conf"');
    expect(readFileSync(join(root, 'data', 'hq', 'nats-auth.conf'), 'utf8')).toContain(`nkey: "${record.natsPublicKey}"`);
    expect(() => execFileSync(natsServerBinary(), ['-t', '-c', configFile], { stdio: 'pipe' })).not.toThrow();
  });

  it('explain themselves with --help', () => {
    expect(cli('host', 'provision-store', '--help').stdout).toContain('--nearby <ids>');
    expect(cli('host', 'nats-config', '--help').stdout).toContain('--listen <host:port>');
  });
});
