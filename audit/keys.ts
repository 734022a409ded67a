// The public keys an audit checks signed heads with: every store's registered keys (a rotation
// registers a new key id beside the old one, so heads signed before it still verify) and head
// office's own key.
import type { KeyObject } from 'node:crypto';
import { HQ_ORIGIN } from '../contracts/index.js';
import { keyIdOf, publicKeyFromRaw } from '../contracts/index.js';

export interface RegisteredKey {
  storeId: string;
  keyId: string;
  publicKey: Uint8Array;
}

export class KeyRing {
  private readonly keys = new Map<string, KeyObject>();
  private readonly raw = new Map<string, RegisteredKey>();

  private static slot(origin: string, keyId: string): string {
    return `${origin}\u0000${keyId}`;
  }

  /** Adds a registered key; returns an error message when the key is not a usable Ed25519 key. */
  add(key: RegisteredKey): string | undefined {
    let publicKey: KeyObject;
    try {
      publicKey = publicKeyFromRaw(key.publicKey);
    } catch (error) {
      return `key ${key.keyId} registered for ${key.storeId} is unusable: ${(error as Error).message}`;
    }
    if (key.keyId !== keyIdOf(key.publicKey))
      return `key id ${key.keyId} registered for ${key.storeId} is not the id of its public key (${keyIdOf(key.publicKey)})`;
    this.keys.set(KeyRing.slot(key.storeId, key.keyId), publicKey);
    this.raw.set(KeyRing.slot(key.storeId, key.keyId), key);
    return undefined;
  }

  addHq(publicKey: Uint8Array): string | undefined {
    return this.add({ storeId: HQ_ORIGIN, keyId: keyIdOf(publicKey), publicKey });
  }

  get(origin: string, keyId: string): KeyObject | undefined {
    return this.keys.get(KeyRing.slot(origin, keyId));
  }

  has(origin: string): boolean {
    for (const key of this.raw.values()) if (key.storeId === origin) return true;
    return false;
  }

  list(): RegisteredKey[] {
    return [...this.raw.values()];
  }
}
