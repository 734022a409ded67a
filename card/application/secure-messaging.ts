import { aesCbcDecrypt, aesCbcEncrypt, aesEncryptBlocks, pad, unpad } from '../crypto/aes.js';
import { aesCmac, aesCmac8, cmacKdf } from '../crypto/cmac.js';
import { ascii, concat, equalBytes } from '../crypto/bytes.js';

/*
 * Secure messaging, shared by the chip and the terminal. Mutual authentication proves both sides
 * hold the card key K and yields session keys; afterwards every protected command and response is
 * encrypted (AES-128-CBC, IV = AES(K_enc, SSC)) and MACed (CMAC-8 over SSC || header/SW || cipher).
 * The send sequence counter SSC increases by one for each command and each response, so a replayed
 * or reordered message fails its MAC.
 */

export const SM_CLA_BIT = 0x04;

export interface SessionKeys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  /** Messages exchanged so far in this session. */
  readonly ssc: number;
}

export function terminalCryptogram(key: Uint8Array, rndTerminal: Uint8Array, rndCard: Uint8Array): Uint8Array {
  return aesCmac(key, concat(ascii('cardsys/auth-terminal'), rndTerminal, rndCard));
}

export function cardCryptogram(key: Uint8Array, rndTerminal: Uint8Array, rndCard: Uint8Array): Uint8Array {
  return aesCmac(key, concat(ascii('cardsys/auth-card'), rndCard, rndTerminal));
}

export function deriveSessionKeys(key: Uint8Array, rndTerminal: Uint8Array, rndCard: Uint8Array): SessionKeys {
  const context = concat(rndTerminal, rndCard);
  return { enc: cmacKdf(key, 'cardsys/session-enc', context), mac: cmacKdf(key, 'cardsys/session-mac', context), ssc: 0 };
}

function sscBlock(ssc: number): Uint8Array {
  const block = new Uint8Array(16);
  new DataView(block.buffer).setBigUint64(8, BigInt(ssc));
  return block;
}

function encrypt(keys: SessionKeys, ssc: number, plain: Uint8Array): Uint8Array {
  if (plain.length === 0) return plain;
  return aesCbcEncrypt(keys.enc, aesEncryptBlocks(keys.enc, sscBlock(ssc)), pad(plain));
}

function decrypt(keys: SessionKeys, ssc: number, cipher: Uint8Array): Uint8Array | undefined {
  if (cipher.length === 0) return cipher;
  if (cipher.length % 16 !== 0) return undefined;
  return unpad(aesCbcDecrypt(keys.enc, aesEncryptBlocks(keys.enc, sscBlock(ssc)), cipher));
}

function header(cla: number, ins: number, p1: number, p2: number): Uint8Array {
  return Uint8Array.of(cla, ins, p1, p2);
}

/** Terminal side: the data field of a protected command, and the session after it. */
export function protectCommand(
  keys: SessionKeys,
  command: { cla: number; ins: number; p1: number; p2: number; data: Uint8Array },
): { data: Uint8Array; keys: SessionKeys } {
  const ssc = keys.ssc + 1;
  const cipher = encrypt(keys, ssc, command.data);
  const mac = aesCmac8(keys.mac, concat(sscBlock(ssc), header(command.cla, command.ins, command.p1, command.p2), cipher));
  return { data: concat(cipher, mac), keys: { ...keys, ssc } };
}

/** Card side: the plain data of a protected command, or undefined when its MAC or padding is wrong. */
export function unprotectCommand(
  keys: SessionKeys,
  command: { cla: number; ins: number; p1: number; p2: number; data: Uint8Array },
): { data: Uint8Array; keys: SessionKeys } | undefined {
  if (command.data.length < 8) return undefined;
  const ssc = keys.ssc + 1;
  const cipher = command.data.subarray(0, command.data.length - 8);
  const mac = command.data.subarray(command.data.length - 8);
  const expected = aesCmac8(keys.mac, concat(sscBlock(ssc), header(command.cla, command.ins, command.p1, command.p2), cipher));
  if (!equalBytes(mac, expected)) return undefined;
  const data = decrypt(keys, ssc, cipher);
  return data ? { data, keys: { ...keys, ssc } } : undefined;
}

function responseMac(keys: SessionKeys, ssc: number, cipher: Uint8Array, sw: number): Uint8Array {
  return aesCmac8(keys.mac, concat(sscBlock(ssc), cipher, Uint8Array.of(sw >> 8, sw & 0xff)));
}

/** Card side: the data field of a protected response (cipher || MAC; the status word stays plain). */
export function protectResponse(keys: SessionKeys, data: Uint8Array, sw: number): { data: Uint8Array; keys: SessionKeys } {
  const ssc = keys.ssc + 1;
  const cipher = encrypt(keys, ssc, data);
  return { data: concat(cipher, responseMac(keys, ssc, cipher, sw)), keys: { ...keys, ssc } };
}

/** Terminal side: the plain response data, or undefined when the card's MAC is wrong. */
export function unprotectResponse(keys: SessionKeys, data: Uint8Array, sw: number): { data: Uint8Array; keys: SessionKeys } | undefined {
  if (data.length < 8) return undefined;
  const ssc = keys.ssc + 1;
  const cipher = data.subarray(0, data.length - 8);
  if (!equalBytes(data.subarray(data.length - 8), responseMac(keys, ssc, cipher, sw))) return undefined;
  const plain = decrypt(keys, ssc, cipher);
  return plain ? { data: plain, keys: { ...keys, ssc } } : undefined;
}
