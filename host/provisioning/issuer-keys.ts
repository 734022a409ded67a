// Head office's issuer master keys (JSON, mode 0600): made on first use, never replaced.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateIssuerMasterKeys, issuerKeysFromJson, keysToJson, type IssuerMasterKeys } from '../../card/index.js';

/** Where head office keeps them: <hq data>/keys/issuer-keys.json. */
export const issuerKeysFile = (hqDataDir: string) => join(hqDataDir, 'keys', 'issuer-keys.json');

export function loadIssuerKeys(file: string): IssuerMasterKeys {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read the issuer master keys ${file}: ${(error as Error).message}`);
  }
  try {
    return issuerKeysFromJson(json);
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`);
  }
}

export function loadOrCreateIssuerKeys(file: string, keyVersion = 1): { keys: IssuerMasterKeys; created: boolean } {
  if (existsSync(file)) return { keys: loadIssuerKeys(file), created: false };
  const keys = generateIssuerMasterKeys(keyVersion);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(keysToJson(keys), null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { keys, created: true };
}
