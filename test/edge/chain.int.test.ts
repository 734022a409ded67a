import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GENESIS_HASH,
  generateSigningKey,
  hashEnvelope,
  keyIdOf,
  loadOrCreateSigningKey,
  loadPublicKey,
  publicKeyFileOf,
  publicKeyFromRaw,
  rawPublicKey,
  sealEnvelope,
  signHead,
  verifyHead,
} from '../../contracts/index.js';
import { purchase } from '../../testkit/backbone.js';

describe('hash chain and signed heads', () => {
  it('links envelopes by the hash of their exact bytes', () => {
    const first = sealEnvelope('s1', 1, GENESIS_HASH, purchase(1));
    const second = sealEnvelope('s1', 2, first.hash, purchase(2));
    expect(GENESIS_HASH).toEqual(new Uint8Array(32));
    expect(first.hash).toEqual(hashEnvelope(first.bytes));
    expect(second.envelope.prevHash).toEqual(first.hash);
    expect(second.envelope).toMatchObject({ storeId: 's1', storeSeq: 2, eventType: 'PursePaid', streamId: 'card-2' });
  });

  it('verifies a signed head and refuses one that was altered or signed by another key', () => {
    const key = generateSigningKey();
    const head = signHead(key, { storeId: 's1', storeSeq: 42, hash: hashEnvelope(Uint8Array.of(1)) });
    expect(head.keyId).toBe(key.keyId);
    expect(verifyHead(key.publicKey, head)).toBe(true);
    expect(verifyHead(key.publicKey, { ...head, storeSeq: 43 })).toBe(false);
    expect(verifyHead(generateSigningKey().publicKey, head)).toBe(false);
    expect(verifyHead(key.publicKey, { ...head, signature: new Uint8Array(3) })).toBe(false);
  });

  it('names a key by the first 8 bytes of the hash of its raw public key, and keeps key pairs as PEM files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cardsys-keys-'));
    try {
      const file = join(dir, 'signing-key.pem');
      const made = loadOrCreateSigningKey(file);
      expect(made.created).toBe(true);
      const loaded = loadOrCreateSigningKey(file);
      expect(loaded.created).toBe(false);
      expect(loaded.key.keyId).toBe(made.key.keyId);
      expect(made.key.keyId).toMatch(/^[0-9a-f]{16}$/);
      const raw = rawPublicKey(made.key.publicKey);
      expect(raw).toHaveLength(32);
      expect(keyIdOf(raw)).toBe(made.key.keyId);
      expect(keyIdOf(publicKeyFromRaw(raw))).toBe(made.key.keyId);
      expect(keyIdOf(loadPublicKey(publicKeyFileOf(file)))).toBe(made.key.keyId);
      expect(() => publicKeyFromRaw(new Uint8Array(31))).toThrow(/32 bytes, got 31/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
