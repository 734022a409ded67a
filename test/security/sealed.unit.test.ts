import { describe, expect, it } from 'vitest';
import {
  createOpener,
  createSealer,
  generateSealingKey,
  openSealed,
  rawSealingPublicKey,
  seal,
  SealedDataError,
  sealingPublicKeyFromRaw,
} from '../../contracts/index.js';

const storeA = generateSealingKey();
const storeB = generateSealingKey();
const forA = { purpose: 'issuance-snapshot', recipient: 'A' };
const plaintext = new TextEncoder().encode('bank id 0001-123-4567890, Hanako Yamada');

describe('sealed data', () => {
  it('opens with the recipient key and yields the plaintext', () => {
    const blob = seal(storeA.publicKey, forA, plaintext);
    expect(Buffer.from(blob).includes(Buffer.from(plaintext))).toBe(false);
    expect(openSealed(storeA.privateKey, forA, blob)).toEqual(plaintext);
  });

  it("does not open with another store's key, and says it was sealed to another key", () => {
    const blob = seal(storeA.publicKey, forA, plaintext);
    expect(() => openSealed(storeB.privateKey, forA, blob)).toThrow(SealedDataError);
    expect(() => openSealed(storeB.privateKey, forA, blob)).toThrow(`sealed to key ${storeA.keyId}, not to this key ${storeB.keyId}`);
  });

  it('detects a flipped byte anywhere in the nonce, ciphertext or tag', () => {
    const blob = seal(storeA.publicKey, forA, plaintext);
    const headerBytes = 1 + 8 + 32;
    for (let index = headerBytes; index < blob.length; index++) {
      const altered = Uint8Array.from(blob);
      altered[index] = altered[index]! ^ 0x01;
      expect(() => openSealed(storeA.privateKey, forA, altered), `byte ${index}`).toThrow(/authentication failed — the blob was altered/);
    }
  });

  it('detects an altered ephemeral key or recipient key id', () => {
    const blob = seal(storeA.publicKey, forA, plaintext);
    const ephemeralFlipped = Uint8Array.from(blob);
    ephemeralFlipped[20] = ephemeralFlipped[20]! ^ 0x80;
    expect(() => openSealed(storeA.privateKey, forA, ephemeralFlipped)).toThrow(SealedDataError);
    const keyIdFlipped = Uint8Array.from(blob);
    keyIdFlipped[3] = keyIdFlipped[3]! ^ 0x01;
    expect(() => openSealed(storeA.privateKey, forA, keyIdFlipped)).toThrow(/wrong key, or the blob was altered/);
  });

  it('does not open as another purpose or for another recipient', () => {
    const blob = seal(storeA.publicKey, forA, plaintext);
    expect(() => openSealed(storeA.privateKey, { ...forA, purpose: 'issuance-lookup' }, blob)).toThrow(
      /sealed for another purpose or recipient/,
    );
    expect(() => openSealed(storeA.privateKey, { ...forA, recipient: 'B' }, blob)).toThrow(/sealed for another purpose or recipient/);
  });

  it('refuses bytes that are not a sealed blob, saying why', () => {
    expect(() => openSealed(storeA.privateKey, forA, new Uint8Array(10))).toThrow(
      'not a sealed blob: 10 bytes, a sealed blob has at least 69',
    );
    const blob = seal(storeA.publicKey, forA, plaintext);
    blob[0] = 9;
    expect(() => openSealed(storeA.privateKey, forA, blob)).toThrow('not a sealed blob: unknown version 9 (expected 1)');
  });

  it('seals many messages with one sealer; each blob opens alone and none repeats a nonce', () => {
    const sealer = createSealer(storeA.publicKey, forA);
    const opener = createOpener(storeA.privateKey, forA);
    const messages = Array.from({ length: 200 }, (_, i) => new TextEncoder().encode(`entry ${i}`));
    const blobs = messages.map((message) => sealer.seal(message));
    expect(blobs.map((blob) => opener.open(blob))).toEqual(messages);
    expect(openSealed(storeA.privateKey, forA, blobs[150]!)).toEqual(messages[150]);
    const nonces = new Set(blobs.map((blob) => Buffer.from(blob.subarray(41, 53)).toString('hex')));
    expect(nonces.size).toBe(blobs.length);
  });

  it('round-trips an empty message and a raw public key', () => {
    const recipient = sealingPublicKeyFromRaw(rawSealingPublicKey(storeA.publicKey));
    expect(openSealed(storeA.privateKey, forA, seal(recipient, forA, new Uint8Array(0)))).toEqual(new Uint8Array(0));
    expect(() => sealingPublicKeyFromRaw(new Uint8Array(31))).toThrow('an X25519 public key has 32 bytes, got 31');
  });
});
