// NATS credential files: one nkey user seed per file (mode 0600), preceded by comment lines that
// name the principal and its inbox prefix. The nats CLI reads the same file with `--nkey <file>`.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createUser, fromSeed } from '@nats-io/nkeys';
import { nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { inboxPrefixOf, principalName, type Principal } from './auth.js';

export interface NatsCredentials {
  /** e.g. "store A"; informative only, the server knows the principal by its public key. */
  principal: string;
  inboxPrefix: string | undefined;
  seed: Uint8Array;
  publicKey: string;
}

const SEED_LINE = /^SU[A-Z2-7]{56}$/;
const INBOX_LINE = /^#\s*inbox-prefix:\s*(\S+)\s*$/;
const PRINCIPAL_LINE = /^#\s*principal:\s*(.+?)\s*$/;

/** Makes a new nkey user for the principal. */
export function createCredentials(principal: Principal): NatsCredentials {
  const user = createUser();
  return {
    principal: principalName(principal),
    inboxPrefix: inboxPrefixOf(principal),
    seed: user.getSeed(),
    publicKey: user.getPublicKey(),
  };
}

export function writeCredentialsFile(file: string, credentials: NatsCredentials): void {
  mkdirSync(dirname(file), { recursive: true });
  const lines = [
    '# cardsys NATS credentials: an nkey seed. Keep this file secret.',
    `# principal: ${credentials.principal}`,
    ...(credentials.inboxPrefix ? [`# inbox-prefix: ${credentials.inboxPrefix}`] : []),
    new TextDecoder().decode(credentials.seed),
    '',
  ];
  writeFileSync(file, lines.join('\n'), { mode: 0o600 });
  chmodSync(file, 0o600);
}

export function readCredentialsFile(file: string): NatsCredentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read NATS credentials file ${file}: ${(error as Error).message}`);
  }
  const lines = text.split(/\r?\n/).map((line) => line.trim());
  const seedLines = lines.filter((line) => SEED_LINE.test(line));
  if (seedLines.length !== 1) {
    throw new Error(`${file} is not a cardsys NATS credentials file: expected one nkey user seed line (SU...), found ${seedLines.length}`);
  }
  const seed = new TextEncoder().encode(seedLines[0]);
  let publicKey: string;
  try {
    publicKey = fromSeed(seed).getPublicKey();
  } catch (error) {
    throw new Error(`${file}: the nkey seed is damaged (${(error as Error).message})`);
  }
  const inbox = lines.map((line) => INBOX_LINE.exec(line)?.[1]).find((prefix) => prefix !== undefined);
  const principal = lines.map((line) => PRINCIPAL_LINE.exec(line)?.[1]).find((name) => name !== undefined) ?? publicKey;
  return { principal, inboxPrefix: inbox, seed, publicKey };
}

/** Options for `connect()` that authenticate with the credentials file and use its inbox prefix. */
export function natsConnectOptions(credsFile: string | undefined): Pick<ConnectionOptions, 'authenticator' | 'inboxPrefix'> {
  if (credsFile === undefined) return {};
  const credentials = readCredentialsFile(credsFile);
  return {
    authenticator: nkeyAuthenticator(credentials.seed),
    ...(credentials.inboxPrefix ? { inboxPrefix: credentials.inboxPrefix } : {}),
  };
}

/** Reads the principal's credentials file, or makes a new nkey user and writes the file on first use. */
export function loadOrCreateCredentialsFile(file: string, principal: Principal): { credentials: NatsCredentials; created: boolean } {
  if (existsSync(file)) return { credentials: readCredentialsFile(file), created: false };
  const credentials = createCredentials(principal);
  writeCredentialsFile(file, credentials);
  return { credentials, created: true };
}
