// Where provisioning keeps its files. Head office's folder holds its own secrets in `keys/` and
// only the public halves of every store in `directory/`; a store's bundle holds that store's
// secrets and is handed over to the store (the edge reads it from its data folder).
import { join } from 'node:path';

export interface HeadOfficeFiles {
  signingKey: string;
  sealingKey: string;
  /** Ed25519 key that signs the API's bearer tokens (`cardsys host token`) when no OIDC issuer is configured. */
  apiTokenKey: string;
  /** NATS credentials of the head office process. */
  natsCreds: string;
  /** NATS credentials of the read-only auditor. */
  auditorCreds: string;
  /** Public halves of head office's keys. */
  record: string;
  /** Public record of each provisioned store: `<directory>/<storeId>.json`. */
  directory: string;
  /** The generated nats-server `authorization` block. */
  natsAuthConfig: string;
}

export function headOfficeFiles(hqDataDir: string): HeadOfficeFiles {
  return {
    signingKey: join(hqDataDir, 'keys', 'signing-key.pem'),
    sealingKey: join(hqDataDir, 'keys', 'sealing-key.pem'),
    apiTokenKey: join(hqDataDir, 'keys', 'api-token-key.pem'),
    natsCreds: join(hqDataDir, 'keys', 'hq.nk'),
    auditorCreds: join(hqDataDir, 'keys', 'auditor.nk'),
    record: join(hqDataDir, 'directory', 'hq.public.json'),
    directory: join(hqDataDir, 'directory', 'stores'),
    natsAuthConfig: join(hqDataDir, 'nats-auth.conf'),
  };
}

export interface StoreBundleFiles {
  /** Ed25519 key that signs the store's chain heads (public half beside it, `.pub.pem`). */
  signingKey: string;
  /** X25519 key that issuance data for the store is sealed to. */
  sealingKey: string;
  /** NATS credentials of the edge node. */
  natsCreds: string;
  /** NATS credentials shared by the store's POS terminals. */
  posCreds: string;
  /** Head office's X25519 public key: what the store seals issuance records and lookups to. */
  hqSealingPublicKey: string;
  /** Head office's Ed25519 public key, to check head office's signatures. */
  hqSigningPublicKey: string;
  /** Public description of the store and of head office's keys. */
  record: string;
  /** The store terminals' master keys (JSON): what its card terminals derive per-card keys from. */
  terminalKeys: string;
}

export function storeBundleFiles(bundleDir: string): StoreBundleFiles {
  return {
    signingKey: join(bundleDir, 'signing-key.pem'),
    sealingKey: join(bundleDir, 'sealing-key.pem'),
    natsCreds: join(bundleDir, 'store.nk'),
    posCreds: join(bundleDir, 'pos.nk'),
    hqSealingPublicKey: join(bundleDir, 'hq-sealing-key.pub.pem'),
    hqSigningPublicKey: join(bundleDir, 'hq-signing-key.pub.pem'),
    record: join(bundleDir, 'store.json'),
    terminalKeys: join(bundleDir, 'terminal-keys.json'),
  };
}
