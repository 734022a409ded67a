// Hash chains and signed chain heads: every origin links its envelopes by SHA-256 of their exact
// bytes and signs the head of its chain with Ed25519, so head office and auditors can check that
// nothing was changed, dropped or inserted.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeEnvelope, encodeEvent, pb, type ChainHead, type EventEnvelope, type NewDomainEvent } from './codec.js';

/** prev_hash of every origin's first event. */
export const GENESIS_HASH: Uint8Array = new Uint8Array(32);

export function hashEnvelope(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

/** The bytes an origin signs: its ChainHead encoded with an empty signature. */
export function headSigningBytes(head: ChainHead): Uint8Array {
  return pb.ChainHead.encode({ ...head, signature: new Uint8Array(0) }).finish();
}

/** An origin's Ed25519 key pair and the id under which head office knows its public key. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

export function signHead(key: SigningKey, head: Omit<ChainHead, 'keyId' | 'signature'>): ChainHead {
  const unsigned: ChainHead = { ...head, keyId: key.keyId, signature: new Uint8Array(0) };
  return { ...unsigned, signature: new Uint8Array(sign(null, headSigningBytes(unsigned), key.privateKey)) };
}

export function verifyHead(publicKey: KeyObject, head: ChainHead): boolean {
  if (head.signature.length !== 64) return false;
  return verify(null, headSigningBytes(head), publicKey, head.signature);
}

/** The raw 32-byte Ed25519 public key, as StoreKeyRegistered carries it. */
export function rawPublicKey(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') throw new Error('not an Ed25519 public key');
  return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new Error(`an Ed25519 public key has 32 bytes, got ${raw.length}`);
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
}

/** First 8 bytes (hex) of SHA-256 of the raw public key. */
export function keyIdOf(publicKey: KeyObject | Uint8Array): string {
  const raw = publicKey instanceof Uint8Array ? publicKey : rawPublicKey(publicKey);
  return createHash('sha256').update(raw).digest().subarray(0, 8).toString('hex');
}

function signingKeyOf(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function generateSigningKey(): SigningKey {
  return signingKeyOf(generateKeyPairSync('ed25519').privateKey);
}

/** Where a key pair lives: the private key at `privateKeyFile`, the public key beside it. */
export function publicKeyFileOf(privateKeyFile: string): string {
  return privateKeyFile.replace(/(\.pem)?$/, '.pub.pem');
}

export function saveSigningKey(key: SigningKey, privateKeyFile: string): void {
  mkdirSync(dirname(privateKeyFile), { recursive: true });
  writeFileSync(privateKeyFile, key.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  writeFileSync(publicKeyFileOf(privateKeyFile), key.publicKey.export({ format: 'pem', type: 'spki' }));
}

export function loadSigningKey(privateKeyFile: string): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(privateKeyFile));
  } catch (error) {
    throw new Error(`cannot read the signing key ${privateKeyFile}: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${privateKeyFile} is not an Ed25519 private key`);
  return signingKeyOf(privateKey);
}

export function loadPublicKey(publicKeyFile: string): KeyObject {
  const key = createPublicKey(readFileSync(publicKeyFile));
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${publicKeyFile} is not an Ed25519 public key`);
  return key;
}

/** Loads the key pair, or makes and saves one on first use. */
export function loadOrCreateSigningKey(privateKeyFile: string): { key: SigningKey; created: boolean } {
  if (existsSync(privateKeyFile)) return { key: loadSigningKey(privateKeyFile), created: false };
  const key = generateSigningKey();
  saveSigningKey(key, privateKeyFile);
  return { key, created: true };
}

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

/** Encodes the next envelope of an origin's chain. */
export function sealEnvelope(origin: string, seq: number, prevHash: Uint8Array, input: EventInput): SealedEnvelope {
  const envelope: EventEnvelope = {
    eventId: randomUUID(),
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
