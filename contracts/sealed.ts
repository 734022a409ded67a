// Data sealed to one recipient's X25519 key: issuance snapshots and lookup answers to a store,
// issuance records from a store to head office. Only the holder of the recipient's private key can
// open a blob, and any change to it is detected.
//
// Blob layout: version (1) | recipient key id (8) | ephemeral X25519 public key (32) | nonce (12) |
// AES-256-GCM ciphertext | tag (16). The key is HKDF-SHA256 over the ECDH secret (salt: ephemeral
// and recipient public keys); the associated data binds the header, the purpose and the recipient,
// so a blob sealed for one purpose or recipient does not open as another.
import { createCipheriv, createDecipheriv, createPublicKey, diffieHellman, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { KEY_ID_BYTES, keyIdBytesOf, keyPairsOf, type KeyPair } from './key-pairs.js';

const VERSION = 1;
const PUBLIC_KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + KEY_ID_BYTES + PUBLIC_KEY_BYTES;
const MIN_BLOB_BYTES = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
/** Messages one ephemeral key seals before a sealer takes a fresh one (random 96-bit nonces). */
const MESSAGES_PER_EPHEMERAL_KEY = 1 << 24;

/** What a blob is for and whom it is for; both must match when it is opened. */
export interface SealContext {
  /** e.g. "issuance-snapshot", "issuance-lookup", "issued-record". */
  purpose: string;
  /** Store id, or "hq" for head office. */
  recipient: string;
}

/** A sealed blob that cannot be opened: not a blob, sealed to another key, or altered. */
export class SealedDataError extends Error {
  override name = 'SealedDataError';
}

export type SealingKeyPair = KeyPair;

const sealingKeys = keyPairsOf('x25519', 'sealing', (message) => new SealedDataError(message));

export const generateSealingKey = sealingKeys.generate;
/** The raw 32-byte X25519 public key, as StoreKeyRegistered.sealing_public_key carries it. */
export const rawSealingPublicKey = sealingKeys.raw;
export const sealingPublicKeyFromRaw = sealingKeys.fromRaw;
/** Writes the private key (PKCS#8 PEM, mode 0600) and the public key beside it (`.pub.pem`). */
export const saveSealingKey = sealingKeys.save;
export const loadSealingKey = sealingKeys.load;
export const loadSealingPublicKey = sealingKeys.loadPublic;
/** Loads the key pair, or makes and saves one on first use. */
export const loadOrCreateSealingKey = sealingKeys.loadOrCreate;

const keyIdBytes = (publicKey: KeyObject | Uint8Array): Buffer =>
  keyIdBytesOf(publicKey instanceof Uint8Array ? publicKey : rawSealingPublicKey(publicKey));

function associatedData(header: Uint8Array, context: SealContext): Buffer {
  return Buffer.concat([header, Buffer.from(`\0cardsys-sealed\0${context.purpose}\0${context.recipient}`, 'utf8')]);
}

function deriveKey(sharedSecret: Buffer, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', sharedSecret, Buffer.concat([ephemeralPublic, recipientPublic]), 'cardsys sealed v1', 32));
}

/** Seals many messages to one recipient with one ECDH: the bulk path for snapshots. */
export interface Sealer {
  seal(plaintext: Uint8Array): Uint8Array;
}

export function createSealer(recipientPublicKey: KeyObject, context: SealContext): Sealer {
  const recipientRaw = rawSealingPublicKey(recipientPublicKey);
  const recipientKeyId = keyIdBytes(recipientRaw);
  let header: Buffer = Buffer.alloc(0);
  let key: Buffer = Buffer.alloc(0);
  let remaining = 0;
  const rotate = () => {
    const ephemeral = generateSealingKey();
    const ephemeralRaw = rawSealingPublicKey(ephemeral.publicKey);
    header = Buffer.concat([Buffer.of(VERSION), recipientKeyId, ephemeralRaw]);
    key = deriveKey(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientPublicKey }), ephemeralRaw, recipientRaw);
    remaining = MESSAGES_PER_EPHEMERAL_KEY;
  };
  return {
    seal(plaintext) {
      if (remaining === 0) rotate();
      remaining--;
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(associatedData(header, context));
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return new Uint8Array(Buffer.concat([header, nonce, ciphertext, cipher.getAuthTag()]));
    },
  };
}

/** Seals one message to the recipient's X25519 public key. */
export function seal(recipientPublicKey: KeyObject, context: SealContext, plaintext: Uint8Array): Uint8Array {
  return createSealer(recipientPublicKey, context).seal(plaintext);
}

/** Opens blobs sealed to one key pair, remembering the keys derived for recent senders. */
export interface Opener {
  open(blob: Uint8Array): Uint8Array;
}

const DERIVED_KEY_CACHE = 64;

export function createOpener(privateKey: KeyObject, context: SealContext): Opener {
  const ownRaw = rawSealingPublicKey(createPublicKey(privateKey));
  const ownKeyId = keyIdBytes(ownRaw);
  const derived = new Map<string, Buffer>();
  const keyFor = (ephemeralRaw: Uint8Array): Buffer => {
    const cacheKey = Buffer.from(ephemeralRaw).toString('hex');
    const cached = derived.get(cacheKey);
    if (cached) return cached;
    let sharedSecret: Buffer;
    try {
      sharedSecret = diffieHellman({ privateKey, publicKey: sealingPublicKeyFromRaw(ephemeralRaw) });
    } catch (error) {
      throw new SealedDataError(
        `cannot open sealed data for ${context.recipient} (${context.purpose}): bad ephemeral key (${(error as Error).message}); the data was altered`,
      );
    }
    const key = deriveKey(sharedSecret, ephemeralRaw, ownRaw);
    if (derived.size >= DERIVED_KEY_CACHE) derived.delete(derived.keys().next().value as string);
    derived.set(cacheKey, key);
    return key;
  };
  return {
    open(blob) {
      if (blob.length < MIN_BLOB_BYTES) {
        throw new SealedDataError(`not a sealed blob: ${blob.length} bytes, a sealed blob has at least ${MIN_BLOB_BYTES}`);
      }
      if (blob[0] !== VERSION) throw new SealedDataError(`not a sealed blob: unknown version ${blob[0]} (expected ${VERSION})`);
      const keyId = blob.subarray(1, 1 + KEY_ID_BYTES);
      if (!ownKeyId.equals(keyId)) {
        throw new SealedDataError(
          `cannot open sealed data for ${context.recipient} (${context.purpose}): it was sealed to key ${Buffer.from(keyId).toString('hex')}, ` +
            `not to this key ${ownKeyId.toString('hex')} (wrong key, or the blob was altered)`,
        );
      }
      const header = blob.subarray(0, HEADER_BYTES);
      const nonce = blob.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
      const ciphertext = blob.subarray(HEADER_BYTES + NONCE_BYTES, blob.length - TAG_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', keyFor(blob.subarray(1 + KEY_ID_BYTES, HEADER_BYTES)), nonce);
      decipher.setAAD(associatedData(header, context));
      decipher.setAuthTag(blob.subarray(blob.length - TAG_BYTES));
      try {
        return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
      } catch {
        throw new SealedDataError(
          `cannot open sealed data for ${context.recipient} (${context.purpose}): authentication failed — the blob was altered, ` +
            `or it was sealed for another purpose or recipient`,
        );
      }
    },
  };
}

/** Opens one blob with the recipient's private key; throws SealedDataError saying why it cannot. */
export function openSealed(privateKey: KeyObject, context: SealContext, blob: Uint8Array): Uint8Array {
  return createOpener(privateKey, context).open(blob);
}
