import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf, loadPinKey, loadPublicKey, loadSigningKey, rawPublicKey, terminalPinKey } from '../../contracts/index.js';
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
  provisionTerminal,
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
    const terminal = bundle.terminal('pos-1');
    for (const secret of [
      bundle.signingKey,
      bundle.sealingKey,
      bundle.natsCreds,
      bundle.pinMasterKey,
      terminal.natsCreds,
      terminal.pinKey,
      bundle.terminalKeys,
      bundle.tls.key,
    ])
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
    // One terminal when none is named: pos-1, its own principal and inbox, its PIN key derived from the store's PIN master key.
    expect(storeA.record.terminals.map((t) => t.terminalId)).toEqual(['pos-1']);
    expect(readCredentialsFile(terminal.natsCreds)).toMatchObject({
      principal: 'pos A/pos-1',
      inboxPrefix: '_INBOX.pos.A.pos-1',
      publicKey: storeA.record.terminals[0]!.natsPublicKey,
    });
    expect(loadPinKey(terminal.pinKey)).toEqual(terminalPinKey(loadPinKey(bundle.pinMasterKey), 'A', 'pos-1'));
  });

  it('adds a terminal to a provisioned store with its own credentials and PIN key, and never replaces one', () => {
    const added = provisionTerminal({ hqDataDir, storeId: 'A', terminalId: 'pos-7', bundleDir: join(root, 'bundle-A') });
    const files = storeA.bundle.terminal('pos-7');
    expect(added.files).toEqual(files);
    expect(readCredentialsFile(files.natsCreds)).toMatchObject({ principal: 'pos A/pos-7', inboxPrefix: '_INBOX.pos.A.pos-7' });
    expect(loadPinKey(files.pinKey)).toEqual(terminalPinKey(loadPinKey(storeA.bundle.pinMasterKey), 'A', 'pos-7'));
    expect(loadPinKey(files.pinKey)).not.toEqual(loadPinKey(storeA.bundle.terminal('pos-1').pinKey));
    const record = JSON.parse(readFileSync(join(hqDataDir, 'directory', 'stores', 'A.json'), 'utf8'));
    expect(record.terminals.map((t: { terminalId: string }) => t.terminalId)).toEqual(['pos-1', 'pos-7']);
    expect(JSON.parse(readFileSync(storeA.bundle.record, 'utf8')).store.terminals).toEqual(record.terminals);
    expect(readFileSync(added.natsAuthConfigFile, 'utf8')).toContain(`nkey: "${added.record.natsPublicKey}"`);
    expect(() => provisionTerminal({ hqDataDir, storeId: 'A', terminalId: 'pos-7', bundleDir: join(root, 'bundle-A') })).toThrow(
      'terminal pos-7 of store A is already provisioned; its keys are never replaced',
    );
    expect(() => provisionTerminal({ hqDataDir, storeId: 'Q', terminalId: 'pos-1' })).toThrow(/store Q is not provisioned/);
    expect(() => provisionTerminal({ hqDataDir, storeId: 'A', terminalId: 'pos.1', bundleDir: join(root, 'bundle-A') })).toThrow(
      'terminal id "pos.1": terminal id must be 1-32 letters, digits, "-" or "_"',
    );
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
    const terminalKeys = (store: ProvisionedStore) => store.record.terminals.map((terminal) => terminal.natsPublicKey);
    for (const key of [storeA.record.natsPublicKey, ...terminalKeys(storeA), storeB.record.natsPublicKey, ...terminalKeys(storeB)]) {
      expect(after).toContain(`nkey: "${key}"`);
    }
    // Head office's five parts, the auditor, and each store's edge and POS terminals (A: pos-1 and pos-7, B: pos-1), each store in its own account.
    expect(after.match(/nkey: "U/g)).toHaveLength(11);
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
    const withTerminals = (terminals: string[]) => () =>
      provisionStore({ hqDataDir, storeId: 'N', name: 'N', bundleDir: join(root, 'bad'), terminals });
    expect(withTerminals(['pos-1', 'pos 2'])).toThrow('terminal id "pos 2": terminal id must be 1-32 letters, digits, "-" or "_"');
    expect(withTerminals(['pos-1', 'pos-1'])).toThrow('terminal pos-1 is listed twice');
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
    expect(record.terminals.map((t: { terminalId: string }) => t.terminalId)).toEqual(['pos-1']);

    const terminals = cli('host', 'provision-store', '--store', 'S2', '--name', 'Shop 2', '--terminals', 'pos-1,pos-2', '--data', 'data');
    expect(terminals.status).toBe(0);
    for (const terminalId of ['pos-1', 'pos-2'])
      expect(mode(join(root, 'data', 'stores', 'S2', 'terminals', terminalId, 'nats.nk')), terminalId).toBe(0o600);
    const added = cli('host', 'provision-terminal', '--store', 'S2', '--terminal', 'pos-3', '--data', 'data');
    expect(added.stdout).toContain('terminal pos-3 of store S2 provisioned');
    expect(added.status).toBe(0);
    expect(mode(join(root, 'data', 'stores', 'S2', 'terminals', 'pos-3', 'pin-key'))).toBe(0o600);
    const twice = cli('host', 'provision-terminal', '--store', 'S2', '--terminal', 'pos-3', '--data', 'data');
    expect(twice.status).toBe(1);
    expect(twice.stderr).toContain('cardsys: terminal pos-3 of store S2 is already provisioned');

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
    expect(cli('host', 'provision-store', '--help').stdout).toContain('--terminals <ids>');
    expect(cli('host', 'provision-terminal', '--help').stdout).toContain('--terminal <id>');
    expect(cli('host', 'nats-config', '--help').stdout).toContain('--listen <host:port>');
  });
});
