// Messages a receiver acts on carry their sender's Ed25519 signature: head office's blacklist
// changes and whole lists, and every blob sealed between head office and a store (snapshots,
// lookups and their answers). A receiver acts on one only when it verifies with the key it knows
// for that sender (a store gets head office's at provisioning; head office has each store's from
// StoreKeyRegistered in `hq`).
//
// Each signature covers a label naming what is signed (starting with a zero byte, so no labelled
// message is ever also a valid encoded ChainHead), so a signature made for one kind of message is
// never valid for another.
//
// Signed sealed blob: version 2 (1) | sender key id (8) | signature (64) | the sealed blob; the
// signature covers the label, the blob's purpose and recipient, and the sealed blob.
import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningKey } from './chain.js';
import { keyIdOf } from './chain.js';
import { pb } from './codec.js';
import { SealedDataError, type Opener, type SealContext } from './sealed.js';

const SIGNATURE_BYTES = 64;
const KEY_ID_BYTES = 8;
const SIGNED_SEALED_VERSION = 2;
const SIGNED_SEALED_HEADER = 1 + KEY_ID_BYTES + SIGNATURE_BYTES;

const label = (purpose: string) => Buffer.from(`\0cardsys-signed\0${purpose}\0`, 'utf8');

function signFor(key: SigningKey, purpose: string, message: Uint8Array): Uint8Array {
  return new Uint8Array(sign(null, Buffer.concat([label(purpose), message]), key.privateKey));
}

function verifyFor(publicKey: KeyObject, purpose: string, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES) return false;
  try {
    return verify(null, Buffer.concat([label(purpose), message]), publicKey, signature);
  } catch {
    return false;
  }
}

/** Who a receiver expects a message from, and the key it knows for them. */
export interface KnownSender {
  /** e.g. "head office", "store A": log lines name it. */
  name: string;
  publicKey: KeyObject;
}

type SignedHeadOfficeMessage = 'BlacklistChange' | 'BlacklistSyncReply';
type Signable = { keyId?: string | null; signature?: Uint8Array | null };

const signingBytes = (type: SignedHeadOfficeMessage, message: Signable): Uint8Array =>
  (pb[type] as { encode(m: object): { finish(): Uint8Array } }).encode({ ...message, signature: new Uint8Array(0) }).finish();

/** The message with head office's key id and signature over it (encoded with an empty signature). */
export function signHeadOfficeMessage<T extends object>(
  type: SignedHeadOfficeMessage,
  key: SigningKey,
  message: T,
): T & { keyId: string; signature: Uint8Array } {
  const unsigned = { ...message, keyId: key.keyId, signature: new Uint8Array(0) };
  return { ...unsigned, signature: signFor(key, type, signingBytes(type, unsigned)) };
}

/** Why a signed message is not the sender's, or undefined when its signature verifies with the sender's key. */
export function headOfficeMessageRefusal(type: SignedHeadOfficeMessage, sender: KnownSender, message: Signable): string | undefined {
  const expected = keyIdOf(sender.publicKey);
  if (!message.signature?.length) return `it is not signed (${sender.name} signs every ${type})`;
  if (message.keyId !== expected) return `it is signed with key ${message.keyId || '(none)'}, not ${sender.name}'s key ${expected}`;
  if (!verifyFor(sender.publicKey, type, signingBytes(type, message), message.signature))
    return `its signature does not verify with ${sender.name}'s key ${expected}`;
  return undefined;
}

const sealedPurpose = (context: SealContext) => `sealed\0${context.purpose}\0${context.recipient}`;

/** A sealed blob with its sender's signature over it. */
export function signSealed(key: SigningKey, context: SealContext, blob: Uint8Array): Uint8Array {
  const header = Buffer.alloc(1 + KEY_ID_BYTES);
  header[0] = SIGNED_SEALED_VERSION;
  Buffer.from(key.keyId, 'hex').copy(header, 1);
  return new Uint8Array(Buffer.concat([header, signFor(key, sealedPurpose(context), blob), blob]));
}

/** The key id of the sender who signed a signed sealed blob (to look its key up before opening it). */
export function signedSealedKeyId(bytes: Uint8Array): string {
  if (bytes.length < SIGNED_SEALED_HEADER || bytes[0] !== SIGNED_SEALED_VERSION)
    throw new SealedDataError('not a signed sealed blob: its sender did not sign it');
  return Buffer.from(bytes.subarray(1, 1 + KEY_ID_BYTES)).toString('hex');
}

/** Opens a signed sealed blob only when its signature verifies with the sender's key; SealedDataError says why not. */
export function openSignedSealed(opener: Opener, context: SealContext, bytes: Uint8Array, sender: KnownSender): Uint8Array {
  const keyId = signedSealedKeyId(bytes);
  const expected = keyIdOf(sender.publicKey);
  if (keyId !== expected) throw new SealedDataError(`the blob is signed with key ${keyId}, not ${sender.name}'s key ${expected}`);
  const signature = bytes.subarray(1 + KEY_ID_BYTES, SIGNED_SEALED_HEADER);
  const blob = bytes.subarray(SIGNED_SEALED_HEADER);
  if (!verifyFor(sender.publicKey, sealedPurpose(context), blob, signature))
    throw new SealedDataError(`the blob's signature does not verify with ${sender.name}'s key ${expected}`);
  return opener.open(blob);
}
