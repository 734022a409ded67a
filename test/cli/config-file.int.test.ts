// `--config <file>`: every option settable in a file; a flag beats the environment, which beats the file.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cardsys } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-config-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const keyIn = (data: string) => existsSync(join(data, 'hq', 'keys', 'api-token-key.pem'));

describe('cardsys --config <file>', () => {
  const [fromFile, fromEnv, fromFlag] = [join(root, 'file'), join(root, 'env'), join(root, 'flag')];
  const config = join(root, 'cardsys.conf');
  writeFileSync(
    config,
    [
      '# every command that has --data reads it from here',
      `data = ${fromFile}`,
      'ttl = 7d',
      '[host token]',
      'subject = "from the file"',
      'role = viewer',
      'role = auditor',
      '[edge]',
      'store = A',
    ].join('\n'),
  );

  it('a setting in the file takes effect; a flag overrides it; the environment overrides the file', () => {
    const token = cardsys(['host', 'token', '--config', config, '--json']);
    expect(token.code, token.stderr).toBe(0);
    expect(token.json()).toMatchObject({ ok: true, subject: 'from the file', roles: ['viewer', 'auditor'] });
    const { issuedAt, expiresAt } = token.json<{ issuedAt: string; expiresAt: string }>();
    expect(Date.parse(expiresAt) - Date.parse(issuedAt)).toBe(7 * 24 * 3600 * 1000);
    expect(keyIn(fromFile)).toBe(true);

    const flagged = cardsys(['host', 'token', '--config', config, '--subject', 'bob', '--role', 'clerk', '--json']);
    expect(flagged.json()).toMatchObject({ subject: 'bob', roles: ['clerk'] });

    const environment = cardsys(['host', 'token', '--json'], { env: { CARDSYS_CONFIG: config, CARDSYS_DATA: fromEnv } });
    expect(environment.json()).toMatchObject({ ok: true, subject: 'from the file' });
    expect(keyIn(fromEnv)).toBe(true);
    const both = cardsys(['host', 'token', '--config', config, '--data', fromFlag, '--json'], { env: { CARDSYS_DATA: fromEnv } });
    expect(both.code).toBe(0);
    expect(keyIn(fromFlag)).toBe(true);
  });

  it('a key the command does not know, or a line that is no setting, is refused naming the line', () => {
    const bad = join(root, 'bad.conf');
    writeFileSync(bad, ['[host token]', 'subject = x', 'sujbect = y'].join('\n'));
    const unknown = cardsys(['host', 'token', '--config', bad, '--json']);
    expect(unknown.code).toBe(1);
    expect(unknown.json()).toEqual({
      ok: false,
      error: `${bad} line 3: "sujbect" is no option of "cardsys host token" (see its --help)`,
    });
    writeFileSync(bad, 'subject: x\n');
    expect(cardsys(['host', 'token', '--config', bad]).stderr).toContain(
      `${bad} line 1: expected "name = value" or "[command]", got "subject: x"`,
    );
    expect(cardsys(['host', 'token', '--config', join(root, 'missing.conf')]).stderr).toContain('--config: cannot read');
  });
});
