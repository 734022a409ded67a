// Thousands of keys in one process: provisioning a chain's stores, or sealing many values (each seal
// makes an ephemeral X25519 key). Run in a child process, which a hang cannot take the suite with.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const KEYS = 12_000;

describe('key generation (integration)', () => {
  it(`makes ${KEYS.toLocaleString('en')} key pairs of each curve, reading each public key raw, without hanging`, () => {
    const script = `
      import { generateSigningKey, generateSealingKey, rawSealingPublicKey } from ${JSON.stringify(join(process.cwd(), 'contracts/index.ts'))};
      const ids = new Set();
      for (let i = 0; i < ${KEYS}; i++) {
        ids.add(generateSigningKey().keyId);
        ids.add(Buffer.from(rawSealingPublicKey(generateSealingKey().publicKey)).toString('hex'));
      }
      process.stdout.write(String(ids.size));`;
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(child.signal, `the child hung and was killed: ${child.stderr}`).toBeNull();
    expect(child.stderr).toBe('');
    expect(Number(child.stdout)).toBe(2 * KEYS);
  }, 120_000);
});
