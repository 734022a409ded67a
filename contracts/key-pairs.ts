// Key pairs of the two curves cardsys uses — Ed25519 to sign chain heads, X25519 to seal data —
// kept the same way: PKCS#8 PEM private key (mode 0600) with the SPKI public key beside it
// (`.pub.pem`), raw 32-byte public keys in events, and an id = first 8 bytes of SHA-256 of the raw key.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyId: string;
}

const RAW_PUBLIC_KEY_BYTES = 32;
export const KEY_ID_BYTES = 8;

/** Where a key pair lives: the private key at `privateKeyFile`, the public key beside it. */
export function publicKeyFileOf(privateKeyFile: string): string {
  return privateKeyFile.replace(/(\.pem)?$/, '.pub.pem');
}

/** First KEY_ID_BYTES of SHA-256 of a raw public key. */
export function keyIdBytesOf(rawPublicKey: Uint8Array): Buffer {
  return createHash('sha256').update(rawPublicKey).digest().subarray(0, KEY_ID_BYTES);
}

/** The functions that make, store and read key pairs of one curve; errors are made by `fail`. */
export function keyPairsOf(curve: 'ed25519' | 'x25519', purpose: string, fail: (message: string) => Error) {
  const crv = curve === 'ed25519' ? 'Ed25519' : 'X25519';
  const raw = (publicKey: KeyObject): Uint8Array => {
    const jwk = publicKey.export({ format: 'jwk' });
    if (jwk.crv !== crv || typeof jwk.x !== 'string') throw fail(`not an ${crv} public key`);
    return new Uint8Array(Buffer.from(jwk.x, 'base64url'));
  };
  const keyId = (publicKey: KeyObject | Uint8Array): string =>
    keyIdBytesOf(publicKey instanceof Uint8Array ? publicKey : raw(publicKey)).toString('hex');
  const pairOf = (privateKey: KeyObject): KeyPair => {
    const publicKey = createPublicKey(privateKey);
    return { privateKey, publicKey, keyId: keyId(publicKey) };
  };
  const readKey = (file: string, what: string, read: (pem: Buffer) => KeyObject): KeyObject => {
    let key: KeyObject;
    try {
      key = read(readFileSync(file));
    } catch (error) {
      throw fail(`cannot read the ${what} ${file}: ${(error as Error).message}`);
    }
    if (key.asymmetricKeyType !== curve) throw fail(`${file} is not an ${crv} ${what.endsWith('public key') ? 'public' : 'private'} key`);
    return key;
  };
  const load = (privateKeyFile: string): KeyPair => pairOf(readKey(privateKeyFile, `${purpose} key`, createPrivateKey));
  const save = (key: KeyPair, privateKeyFile: string): void => {
    mkdirSync(dirname(privateKeyFile), { recursive: true });
    writeFileSync(privateKeyFile, key.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
    writeFileSync(publicKeyFileOf(privateKeyFile), key.publicKey.export({ format: 'pem', type: 'spki' }));
  };
  // Made as JWK and read back, so the key in use shares nothing with its generation job: a KeyObject
  // straight from generateKeyPairSync does, and the job's destructor (run by a GC) waits on the lock
  // that an export of that key holds while it allocates, hanging a process that makes thousands of
  // keys (provisioning a chain's stores, sealing: an ephemeral key per seal) for good (Node 20).
  const generate = (): KeyPair => {
    const encoding = { privateKeyEncoding: { format: 'jwk', type: 'pkcs8' }, publicKeyEncoding: { format: 'jwk', type: 'spki' } };
    // (@types/node has no overload for JWK encodings.)
    const generateAsJwk = generateKeyPairSync as unknown as (type: string, options: typeof encoding) => { privateKey: JsonWebKey };
    return pairOf(createPrivateKey({ key: generateAsJwk(curve, encoding).privateKey, format: 'jwk' }));
  };
  return {
    generate,
    raw,
    fromRaw(bytes: Uint8Array): KeyObject {
      if (bytes.length !== RAW_PUBLIC_KEY_BYTES) throw fail(`an ${crv} public key has ${RAW_PUBLIC_KEY_BYTES} bytes, got ${bytes.length}`);
      return createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(bytes).toString('base64url') }, format: 'jwk' });
    },
    keyId,
    save,
    load,
    loadPublic: (publicKeyFile: string): KeyObject => readKey(publicKeyFile, `${purpose} public key`, createPublicKey),
    /** Loads the key pair, or makes and saves one on first use. */
    loadOrCreate(privateKeyFile: string): { key: KeyPair; created: boolean } {
      if (existsSync(privateKeyFile)) return { key: load(privateKeyFile), created: false };
      const key = generate();
      save(key, privateKeyFile);
      return { key, created: true };
    },
  };
}
