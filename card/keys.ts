import { createHash, randomBytes } from 'node:crypto';
import { aesCmac, aesCmac8, cmacKdfInput } from './crypto/cmac.js';
import { ascii, concat, fromHex, toHex } from './crypto/bytes.js';

/*
 * Key hierarchy. Head office holds the issuer master keys of one key version. Every card gets its
 * own keys, diversified from a master key and the card id, so that breaking one card reveals
 * nothing about another:
 *
 *   master key        card key                   used for
 *   terminal          K_term  = KDF(m, id, …)    mutual authentication and secure messaging
 *   data              K_data  = KDF(m, id, …)    the data MAC kept with the balance (tamper check)
 *   credit            K_cred  = KDF(m, id, …)    head office's authorisation MAC on every credit
 *   transaction       K_txn   = KDF(m, id, …)    the card's MAC over every credit and debit
 *   authCode          (not on the card)          the authentication code written at issuance
 *   transport         (same for every blank card) opening a blank card for initialisation
 *
 * A store terminal receives only the terminal, data and authCode masters: enough to authenticate
 * a card, read and write its personal data under secure messaging, verify its authentication code
 * and its data MAC, and debit it. It never holds the credit master, so it cannot compute the
 * authorisation MAC a card demands before crediting; and it never holds the transaction master,
 * so it cannot forge the card's MAC over a credit or debit that head office checks later.
 */

export type CardKeyPurpose = 'terminal' | 'data' | 'credit' | 'transaction';

export interface TerminalKeys {
  readonly keyVersion: number;
  readonly terminal: Uint8Array;
  readonly data: Uint8Array;
  readonly authCode: Uint8Array;
}

export interface IssuerMasterKeys extends TerminalKeys {
  readonly credit: Uint8Array;
  readonly transaction: Uint8Array;
  readonly transport: Uint8Array;
}

/** The keys one card holds (diversified; written by initialisation). */
export interface CardKeys {
  readonly terminal: Uint8Array;
  readonly data: Uint8Array;
  readonly credit: Uint8Array;
  readonly transaction: Uint8Array;
}

/** A card key from its master key: SP 800-108 CMAC KDF, label = purpose, context = card id. */
export function deriveCardKey(masterKey: Uint8Array, cardId: Uint8Array, purpose: CardKeyPurpose): Uint8Array {
  return aesCmac(masterKey, cardKeyInput(cardId, purpose));
}

/** The message whose CMAC under the master key is the card's key (NIST SP 800-108 counter mode). */
export function cardKeyInput(cardId: Uint8Array, purpose: CardKeyPurpose): Uint8Array {
  if (cardId.length !== 8) throw new Error(`card id must be 8 bytes, got ${cardId.length}`);
  return cmacKdfInput(`cardsys/${purpose}`, cardId);
}

export function diversifyCardKeys(master: IssuerMasterKeys, cardId: Uint8Array): CardKeys {
  return {
    terminal: deriveCardKey(master.terminal, cardId, 'terminal'),
    data: deriveCardKey(master.data, cardId, 'data'),
    credit: deriveCardKey(master.credit, cardId, 'credit'),
    transaction: deriveCardKey(master.transaction, cardId, 'transaction'),
  };
}

/** What a store terminal may hold: never the credit or transaction masters, never the transport key. */
export function terminalKeysOf(master: IssuerMasterKeys): TerminalKeys {
  return { keyVersion: master.keyVersion, terminal: master.terminal, data: master.data, authCode: master.authCode };
}

export function generateIssuerMasterKeys(keyVersion: number): IssuerMasterKeys {
  const key = () => new Uint8Array(randomBytes(16));
  return { keyVersion, terminal: key(), data: key(), authCode: key(), credit: key(), transaction: key(), transport: key() };
}

const KEY_NAMES = ['terminal', 'data', 'authCode', 'credit', 'transaction', 'transport'] as const;

/** Keys as JSON-friendly hex (for key files); only the names present in the object are written. */
export function keysToJson(keys: TerminalKeys | IssuerMasterKeys): Record<string, string | number> {
  const out: Record<string, string | number> = { keyVersion: keys.keyVersion };
  for (const name of KEY_NAMES) {
    const value = (keys as unknown as Record<string, Uint8Array | undefined>)[name];
    if (value) out[name] = toHex(value);
  }
  return out;
}

export function issuerKeysFromJson(json: unknown): IssuerMasterKeys {
  const raw = readKeyJson(json, KEY_NAMES);
  return raw as unknown as IssuerMasterKeys;
}

export function terminalKeysFromJson(json: unknown): TerminalKeys {
  return readKeyJson(json, ['terminal', 'data', 'authCode']) as unknown as TerminalKeys;
}

function readKeyJson(json: unknown, names: readonly string[]): Record<string, unknown> {
  if (typeof json !== 'object' || json === null) throw new Error('key file must hold a JSON object');
  const record = json as Record<string, unknown>;
  const keyVersion = record.keyVersion;
  if (typeof keyVersion !== 'number' || !Number.isInteger(keyVersion) || keyVersion < 0 || keyVersion > 255) {
    throw new Error('key file: keyVersion must be an integer 0-255');
  }
  const out: Record<string, unknown> = { keyVersion };
  for (const name of names) {
    const value = record[name];
    if (typeof value !== 'string') throw new Error(`key file: "${name}" is missing`);
    const key = fromHex(value, `key file "${name}"`);
    if (key.length !== 16) throw new Error(`key file: "${name}" must be 16 bytes (32 hex digits)`);
    out[name] = key;
  }
  return out;
}

/** The 8-byte terminal id the card records and MACs: the first 8 bytes of SHA-256 of the terminal's name. */
/** The bytes a card MACs as the terminal id of an event's terminal: recorded as the chip's 16 hex digits, or a terminal name. */
export function terminalIdBytes(terminalId: string): Uint8Array {
  return /^[0-9a-f]{16}$/i.test(terminalId) ? new Uint8Array(Buffer.from(terminalId, 'hex')) : terminalIdOf(terminalId);
}

export function terminalIdOf(terminalName: string): Uint8Array {
  if (terminalName.length === 0) throw new Error('terminal name must not be empty');
  return new Uint8Array(createHash('sha256').update(terminalName, 'utf8').digest().subarray(0, 8));
}

/**
 * The authentication code written to the card at primary issuance: a MAC under the authCode master
 * over what identifies the card, so a terminal can tell a card issued by head office from a forgery.
 */
export function computeAuthCode(authCodeMaster: Uint8Array, cardId: Uint8Array, expiry: string, keyVersion: number): Uint8Array {
  return aesCmac8(authCodeMaster, concat(ascii('cardsys/authcode'), cardId, ascii(expiry), Uint8Array.of(keyVersion)));
}
