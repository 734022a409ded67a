import { describe, expect, it } from 'vitest';
import { aesCmac, deriveCardKey, fromHex, generateIssuerMasterKeys, terminalKeysOf, toHex } from '../../card/index.js';

// NIST SP 800-38B / RFC 4493 example vectors for AES-128.
const KEY = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
const MESSAGE = fromHex(
  '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
);

describe('AES-128 CMAC', () => {
  it.each([
    [0, 'bb1d6929e95937287fa37d129b756746'],
    [16, '070a16b46b4d4144f79bdd9dd04a287c'],
    [40, 'dfa66747de9ae63030ca32611497c827'],
    [64, '51f0bebf7e3b9d92fc49741779363cfe'],
  ])('matches the SP 800-38B vector for a %i-byte message', (length, tag) => {
    expect(toHex(aesCmac(KEY, MESSAGE.subarray(0, length)))).toBe(tag);
  });

  it('refuses a key that is not 16 bytes', () => {
    expect(() => aesCmac(new Uint8Array(8), new Uint8Array(0))).toThrow(/16 bytes/);
  });
});

describe('card key derivation', () => {
  const master = generateIssuerMasterKeys(1).terminal;
  const cardA = fromHex('0102030405060708');
  const cardB = fromHex('0102030405060709');

  it('is deterministic per card and purpose, and differs across cards and purposes', () => {
    expect(toHex(deriveCardKey(master, cardA, 'terminal'))).toBe(toHex(deriveCardKey(master, cardA, 'terminal')));
    expect(toHex(deriveCardKey(master, cardA, 'terminal'))).not.toBe(toHex(deriveCardKey(master, cardB, 'terminal')));
    expect(toHex(deriveCardKey(master, cardA, 'terminal'))).not.toBe(toHex(deriveCardKey(master, cardA, 'data')));
  });

  it('refuses a card id of the wrong size', () => {
    expect(() => deriveCardKey(master, new Uint8Array(4), 'credit')).toThrow(/8 bytes/);
  });

  it('gives store terminals no credit, transaction or transport key', () => {
    const store = terminalKeysOf(generateIssuerMasterKeys(3)) as unknown as Record<string, unknown>;
    expect(Object.keys(store).sort()).toEqual(['authCode', 'data', 'keyVersion', 'terminal']);
  });
});
