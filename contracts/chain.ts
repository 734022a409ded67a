// Hash chains and signed chain heads: every origin links its envelopes by SHA-256 of their exact
// bytes and signs the head of its chain with Ed25519, so head office and auditors can check that
// nothing was changed, dropped or inserted.
import { createHash, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { encodeEnvelope, encodeEvent, pb, type ChainHead, type EventEnvelope, type NewDomainEvent } from './codec.js';
import { keyPairsOf, publicKeyFileOf, type KeyPair } from './key-pairs.js';

/** prev_hash of every origin's first event. */
export const GENESIS_HASH: Uint8Array = new Uint8Array(32);

export function hashEnvelope(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

/** The bytes an origin signs: its ChainHead encoded with an empty signature. */
function headSigningBytes(head: ChainHead): Uint8Array {
  return pb.ChainHead.encode({ ...head, signature: new Uint8Array(0) }).finish();
}

/** An origin's Ed25519 key pair and the id under which head office knows its public key. */
export type SigningKey = KeyPair;

const signingKeys = keyPairsOf('ed25519', 'signing', (message) => new Error(message));

export function signHead(key: SigningKey, head: Omit<ChainHead, 'keyId' | 'signature'>): ChainHead {
  const unsigned: ChainHead = { ...head, keyId: key.keyId, signature: new Uint8Array(0) };
  return { ...unsigned, signature: new Uint8Array(sign(null, headSigningBytes(unsigned), key.privateKey)) };
}

export function verifyHead(publicKey: KeyObject, head: ChainHead): boolean {
  if (head.signature.length !== 64) return false;
  return verify(null, headSigningBytes(head), publicKey, head.signature);
}

/** The raw 32-byte Ed25519 public key, as StoreKeyRegistered carries it. */
export const rawPublicKey = signingKeys.raw;
export const publicKeyFromRaw = signingKeys.fromRaw;
/** First 8 bytes (hex) of SHA-256 of the raw public key. */
export const keyIdOf = signingKeys.keyId;
export const generateSigningKey = signingKeys.generate;
/** Writes the private key (PKCS#8 PEM, mode 0600) and the public key beside it (`.pub.pem`). */
export const saveSigningKey = signingKeys.save;
export const loadSigningKey = signingKeys.load;
export const loadPublicKey = signingKeys.loadPublic;
/** Loads the key pair, or makes and saves one on first use. */
export const loadOrCreateSigningKey = signingKeys.loadOrCreate;
export { publicKeyFileOf };

/** What an origin records for one new event. */
export interface EventInput {
  event: NewDomainEvent;
  /** Aggregate the event belongs to, e.g. "card-<cardId>". */
  streamId: string;
  commandId?: string;
  occurredAt?: Date;
}

/** An envelope as it sits in a chain: decoded, its exact bytes, and their hash. */
export interface SealedEnvelope {
  envelope: EventEnvelope;
  bytes: Uint8Array;
  hash: Uint8Array;
}

/**
 * A new event id: a version 7 UUID (RFC 9562), 48 bits of Unix milliseconds and then random bits.
 * An origin's ids thus come in nearly increasing order, and head office's index of each stream's
 * event ids grows at its end instead of at a random page for every event.
 */
export function newEventId(nowMs = Date.now()): string {
  const time = nowMs.toString(16).padStart(12, '0');
  // What follows a version 4 UUID's version digit: 12 random bits, the variant and 62 random bits.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
}

/** Encodes the next envelope of an origin's chain. */
export function sealEnvelope(origin: string, seq: number, prevHash: Uint8Array, input: EventInput): SealedEnvelope {
  const envelope: EventEnvelope = {
    eventId: newEventId(),
    storeId: origin,
    storeSeq: seq,
    prevHash,
    occurredAtMs: (input.occurredAt ?? new Date()).getTime(),
    eventType: input.event.type,
    payload: encodeEvent(input.event),
    streamId: input.streamId,
    commandId: input.commandId ?? '',
  };
  const bytes = encodeEnvelope(envelope);
  return { envelope, bytes, hash: hashEnvelope(bytes) };
}
