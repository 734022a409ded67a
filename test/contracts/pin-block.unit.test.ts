import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decryptPinBlock, encryptPinBlock, generatePinKey, PinBlockError, terminalPinKey } from '../../contracts/index.js';

const key = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const binding = { storeId: 'A', terminalId: 'pos-1', commandId: 'cmd-1' };

const aesBlock = (direction: 'encrypt' | 'decrypt', data: Uint8Array) => {
  const cipher = direction === 'encrypt' ? createCipheriv('aes-128-ecb', key, null) : createDecipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(data), cipher.final()]);
};

describe('PIN blocks (ISO 9564-1 format 4 under the terminal key)', () => {
  it('lays the block out as format 4 says: AES(K, AES(K, PIN field) XOR binding field)', () => {
    const block = encryptPinBlock(key, '73920516', binding);
    // The binding field as contracts/pos-terminals.md describes it: nibble 7, then 19 digits of SHA-256 over the command.
    const digest = createHash('sha256').update('cardsys/pin-block\0A\0pos-1\0cmd-1').digest();
    const digits = (digest.readBigUInt64BE(0) % 10n ** 19n).toString().padStart(19, '0');
    const bindingField = Buffer.from(`7${digits}`.padEnd(32, '0'), 'hex');
    const intermediate = aesBlock('decrypt', block);
    for (let i = 0; i < 16; i++) intermediate[i]! ^= bindingField[i]!;
    const pinField = aesBlock('decrypt', intermediate).toString('hex');
    expect(pinField.slice(0, 16)).toBe('4873920516aaaaaa');
  });

  it('opens with the same key for the same command, and differs every time it is made (random fill)', () => {
    const first = encryptPinBlock(key, '1234', binding);
    const second = encryptPinBlock(key, '1234', binding);
    expect(Buffer.from(first).equals(Buffer.from(second))).toBe(false);
    expect(decryptPinBlock(key, first, binding)).toBe('1234');
    expect(decryptPinBlock(key, second, binding)).toBe('1234');
    expect(Buffer.from(first).includes(Buffer.from('1234'))).toBe(false);
  });

  it("does not open under another terminal's key, nor for another command or terminal", () => {
    const block = encryptPinBlock(key, '1234', binding);
    expect(() => decryptPinBlock(generatePinKey(), block, binding)).toThrow(PinBlockError);
    expect(() => decryptPinBlock(key, block, { ...binding, commandId: 'cmd-2' })).toThrow(
      'the PIN block does not open with this terminal key for this command',
    );
    expect(() => decryptPinBlock(key, block, { ...binding, terminalId: 'pos-2' })).toThrow(PinBlockError);
    expect(() => decryptPinBlock(key, block.subarray(0, 8), binding)).toThrow('a PIN block has 16 bytes, got 8');
  });

  it('refuses what is not a PIN or not a key', () => {
    expect(() => encryptPinBlock(key, '12a4', binding)).toThrow('a PIN is 4 to 12 digits');
    expect(() => encryptPinBlock(key, '123', binding)).toThrow(PinBlockError);
    expect(() => encryptPinBlock(key.subarray(0, 8), '1234', binding)).toThrow('a PIN key has 16 bytes, got 8');
  });

  it("derives each terminal's key from the store's PIN master key, different for every store and terminal", () => {
    const master = generatePinKey();
    const keys = [
      terminalPinKey(master, 'A', 'pos-1'),
      terminalPinKey(master, 'A', 'pos-2'),
      terminalPinKey(master, 'B', 'pos-1'),
      terminalPinKey(generatePinKey(), 'A', 'pos-1'),
    ].map((k) => Buffer.from(k).toString('hex'));
    expect(new Set(keys).size).toBe(4);
    expect(terminalPinKey(master, 'A', 'pos-1')).toEqual(terminalPinKey(master, 'A', 'pos-1'));
  });
});
