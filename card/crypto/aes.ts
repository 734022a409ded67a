import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concat } from './bytes.js';

// AES-128 primitives (FIPS 197) with ISO/IEC 9797-1 method 2 padding, as the chip uses them.

export const BLOCK = 16;

function assertKey(key: Uint8Array): void {
  if (key.length !== 16) throw new Error(`AES-128 key must be 16 bytes, got ${key.length}`);
}

/** Encrypts whole blocks with AES-128 in ECB mode (one block at a time is all the chip needs). */
export function aesEncryptBlocks(key: Uint8Array, data: Uint8Array): Uint8Array {
  assertKey(key);
  const cipher = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

export function aesCbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  assertKey(key);
  const cipher = createCipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([cipher.update(data), cipher.final()]));
}

export function aesCbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Uint8Array {
  assertKey(key);
  if (data.length % BLOCK !== 0) throw new Error('ciphertext is not a whole number of AES blocks');
  const decipher = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([decipher.update(data), decipher.final()]));
}

/** ISO/IEC 9797-1 padding method 2: 0x80 then zeros up to a block boundary (always adds a byte). */
export function pad(data: Uint8Array): Uint8Array {
  const padLength = BLOCK - (data.length % BLOCK);
  const padding = new Uint8Array(padLength);
  padding[0] = 0x80;
  return concat(data, padding);
}

/** Removes method-2 padding; returns undefined when the padding is malformed. */
export function unpad(data: Uint8Array): Uint8Array | undefined {
  let end = data.length - 1;
  while (end >= 0 && data[end] === 0x00) end--;
  if (end < 0 || data[end] !== 0x80 || data.length - end > BLOCK) return undefined;
  return data.subarray(0, end);
}
