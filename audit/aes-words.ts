// AES-128 encryption of single blocks held as four big-endian 32-bit words (FIPS 197, T-table
// form). An audit checks one card MAC per purse event; Node's cipher objects cost a native call and
// a Buffer per block, which made the MAC check the largest cost of a replay. This runs in plain
// JavaScript with no allocation per block. Checked against FIPS 197's example vector on first use.

const SBOX = new Uint8Array(256);
const T0 = new Uint32Array(256);
const T1 = new Uint32Array(256);
const T2 = new Uint32Array(256);
const T3 = new Uint32Array(256);

const rotl8 = (x: number, shift: number) => ((x << shift) | (x >>> (8 - shift))) & 0xff;
const xtime = (x: number) => ((x << 1) ^ (x & 0x80 ? 0x1b : 0)) & 0xff;

(function buildTables() {
  // p runs through the multiplicative group by powers of 3, q through its inverses.
  let p = 1;
  let q = 1;
  do {
    p = p ^ xtime(p);
    q ^= q << 1;
    q ^= q << 2;
    q ^= q << 4;
    q &= 0xff;
    if (q & 0x80) q ^= 0x09;
    SBOX[p] = (q ^ rotl8(q, 1) ^ rotl8(q, 2) ^ rotl8(q, 3) ^ rotl8(q, 4) ^ 0x63) & 0xff;
  } while (p !== 1);
  SBOX[0] = 0x63;
  for (let i = 0; i < 256; i++) {
    const s = SBOX[i]!;
    const s2 = xtime(s);
    const word = ((s2 << 24) | (s << 16) | (s << 8) | (s2 ^ s)) >>> 0;
    T0[i] = word;
    T1[i] = ((word >>> 8) | (word << 24)) >>> 0;
    T2[i] = ((word >>> 16) | (word << 16)) >>> 0;
    T3[i] = ((word >>> 24) | (word << 8)) >>> 0;
  }
})();

const subWord = (w: number) =>
  ((SBOX[w >>> 24]! << 24) | (SBOX[(w >>> 16) & 0xff]! << 16) | (SBOX[(w >>> 8) & 0xff]! << 8) | SBOX[w & 0xff]!) >>> 0;

/** The 44 round-key words of an AES-128 key. */
export function expandKey(key: Uint8Array): Uint32Array {
  if (key.length !== 16) throw new Error(`AES-128 key must be 16 bytes, got ${key.length}`);
  const w = new Uint32Array(44);
  for (let i = 0; i < 4; i++) w[i] = ((key[4 * i]! << 24) | (key[4 * i + 1]! << 16) | (key[4 * i + 2]! << 8) | key[4 * i + 3]!) >>> 0;
  let rcon = 1;
  for (let i = 4; i < 44; i++) {
    let t = w[i - 1]!;
    if (i % 4 === 0) {
      t = (subWord(((t << 8) | (t >>> 24)) >>> 0) ^ (rcon << 24)) >>> 0;
      rcon = xtime(rcon);
    }
    w[i] = (w[i - 4]! ^ t) >>> 0;
  }
  return w;
}

/** Encrypts the block `input` (4 words) with the round keys `rk` into `out` (may be `input`). */
export function encryptWords(rk: Uint32Array, input: Uint32Array, out: Uint32Array): void {
  let s0 = input[0]! ^ rk[0]!;
  let s1 = input[1]! ^ rk[1]!;
  let s2 = input[2]! ^ rk[2]!;
  let s3 = input[3]! ^ rk[3]!;
  for (let r = 4; r < 40; r += 4) {
    const t0 = T0[s0 >>> 24]! ^ T1[(s1 >>> 16) & 0xff]! ^ T2[(s2 >>> 8) & 0xff]! ^ T3[s3 & 0xff]! ^ rk[r]!;
    const t1 = T0[s1 >>> 24]! ^ T1[(s2 >>> 16) & 0xff]! ^ T2[(s3 >>> 8) & 0xff]! ^ T3[s0 & 0xff]! ^ rk[r + 1]!;
    const t2 = T0[s2 >>> 24]! ^ T1[(s3 >>> 16) & 0xff]! ^ T2[(s0 >>> 8) & 0xff]! ^ T3[s1 & 0xff]! ^ rk[r + 2]!;
    const t3 = T0[s3 >>> 24]! ^ T1[(s0 >>> 16) & 0xff]! ^ T2[(s1 >>> 8) & 0xff]! ^ T3[s2 & 0xff]! ^ rk[r + 3]!;
    s0 = t0;
    s1 = t1;
    s2 = t2;
    s3 = t3;
  }
  out[0] = ((SBOX[s0 >>> 24]! << 24) | (SBOX[(s1 >>> 16) & 0xff]! << 16) | (SBOX[(s2 >>> 8) & 0xff]! << 8) | SBOX[s3 & 0xff]!) ^ rk[40]!;
  out[1] = ((SBOX[s1 >>> 24]! << 24) | (SBOX[(s2 >>> 16) & 0xff]! << 16) | (SBOX[(s3 >>> 8) & 0xff]! << 8) | SBOX[s0 & 0xff]!) ^ rk[41]!;
  out[2] = ((SBOX[s2 >>> 24]! << 24) | (SBOX[(s3 >>> 16) & 0xff]! << 16) | (SBOX[(s0 >>> 8) & 0xff]! << 8) | SBOX[s1 & 0xff]!) ^ rk[42]!;
  out[3] = ((SBOX[s3 >>> 24]! << 24) | (SBOX[(s0 >>> 16) & 0xff]! << 16) | (SBOX[(s1 >>> 8) & 0xff]! << 8) | SBOX[s2 & 0xff]!) ^ rk[43]!;
}

/** Bytes 0..15 as four big-endian words. */
export function wordsOf(bytes: Uint8Array, at = 0): Uint32Array {
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++)
    out[i] = ((bytes[at + 4 * i]! << 24) | (bytes[at + 4 * i + 1]! << 16) | (bytes[at + 4 * i + 2]! << 8) | bytes[at + 4 * i + 3]!) >>> 0;
  return out;
}

/** FIPS 197 appendix C.1: the tables above must give the standard's answer. */
export function assertAesMatchesStandard(): void {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i);
  const plain = Uint8Array.from({ length: 16 }, (_, i) => i * 0x11);
  const out = new Uint32Array(4);
  encryptWords(expandKey(key), wordsOf(plain), out);
  const hex = [...out].map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
  if (hex !== '69c4e0d86a7b0430d8cdb78070b4c55a') throw new Error(`AES tables are wrong: FIPS 197 C.1 gives ${hex}`);
}
