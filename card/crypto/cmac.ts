import { aesEncryptBlocks, BLOCK } from './aes.js';
import { ascii, concat, u32 } from './bytes.js';

/** AES-128 CMAC (NIST SP 800-38B, RFC 4493): a 16-byte tag. */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  const [k1, k2] = subkeys(key);
  const blockCount = Math.max(1, Math.ceil(message.length / BLOCK));
  const complete = message.length > 0 && message.length % BLOCK === 0;
  const last = new Uint8Array(BLOCK);
  const lastStart = (blockCount - 1) * BLOCK;
  last.set(message.subarray(lastStart));
  if (!complete) last[message.length - lastStart] = 0x80;
  xorInto(last, complete ? k1 : k2);

  let state: Uint8Array = new Uint8Array(BLOCK);
  for (let i = 0; i < blockCount - 1; i++) {
    xorInto(state, message.subarray(i * BLOCK, (i + 1) * BLOCK));
    state = aesEncryptBlocks(key, state);
  }
  xorInto(state, last);
  return aesEncryptBlocks(key, state);
}

/** The 8 leftmost bytes of the CMAC: the truncated MAC the chip stores and returns. */
export function aesCmac8(key: Uint8Array, message: Uint8Array): Uint8Array {
  return aesCmac(key, message).subarray(0, 8);
}

/**
 * Key derivation in counter mode with CMAC as PRF (NIST SP 800-108 §5.1), one 128-bit block:
 * K = CMAC(K_master, 0x01 || label || 0x00 || context || 0x00000080).
 */
export function cmacKdf(masterKey: Uint8Array, label: string, context: Uint8Array): Uint8Array {
  return aesCmac(masterKey, cmacKdfInput(label, context));
}

/** What cmacKdf MACs: for a caller that computes the CMAC its own way (the audit's, many keys at a time). */
export function cmacKdfInput(label: string, context: Uint8Array): Uint8Array {
  return concat(Uint8Array.of(0x01), ascii(label), Uint8Array.of(0x00), context, u32(128));
}

function subkeys(key: Uint8Array): [Uint8Array, Uint8Array] {
  const l = aesEncryptBlocks(key, new Uint8Array(BLOCK));
  const k1 = shiftLeftXorRb(l);
  return [k1, shiftLeftXorRb(k1)];
}

function shiftLeftXorRb(block: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((block[i]! << 1) | ((block[i + 1] ?? 0) >> 7)) & 0xff;
  if (block[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

function xorInto(target: Uint8Array, source: Uint8Array): void {
  for (let i = 0; i < source.length; i++) target[i]! ^= source[i]!;
}
