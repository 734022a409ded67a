// With --json every command prints exactly one JSON object on stdout, failures included, and exits
// non-zero on failure; without it the answer goes to stdout and diagnostics to stderr.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/index.js';
import { cardsys } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-json-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const empty = join(root, 'empty');

describe('cardsys --json', () => {
  it('cannot reach NATS: one JSON object on stdout, exit non-zero', async () => {
    const port = await freePort();
    const run = cardsys(['pos', 'read', '--store', 'A', '--data', empty, '--nats', `nats://127.0.0.1:${port}`, '--json']);
    expect(run.code).toBe(1);
    expect(run.json()).toEqual({
      ok: false,
      error: expect.stringMatching(/^cannot reach NATS at nats:\/\/127\.0\.0\.1:\d+: connection refused/),
    });
    // Without --json the reason is a diagnostic: stderr, stdout empty.
    const human = cardsys(['pos', 'read', '--store', 'A', '--data', empty, '--nats', `nats://127.0.0.1:${port}`]);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).toContain('cannot reach NATS at');
  });

  it.each([
    ['a usage error', ['host', 'token', '--role', 'viewer']],
    ['an unknown option', ['edge', 'status', '--store', 'A', '--bogus']],
    ['a bad store id', ['host', 'provision-store', '--data', empty, '--store', 'no such', '--name', 'x']],
    ['no event log', ['edge', 'status', '--store', 'A', '--data', empty]],
    ['no bundle for the broker', ['edge', 'broker-config', '--store', 'A', '--hub', 'tls://hq:7422', '--data', empty]],
    ['no event store', ['audit', 'replay', '--data', empty]],
    ['no token', ['host', 'issue-card', '--user', 'u1']],
    ['a bad API address', ['host', '--data', empty, '--http', 'nowhere']],
    ['an unknown benchmark', ['bench', '--only', 'nope']],
    ['no card state', ['vcard', 'new', '--state', join(empty, 'x.json')]],
  ])('%s: {"ok": false, "error": …} alone on stdout, exit non-zero', (_what, args) => {
    const run = cardsys([...args, '--json']);
    expect(run.code, run.stderr).not.toBe(0);
    expect(run.json()).toEqual({ ok: false, error: expect.any(String) });
    expect(run.json<{ error: string }>().error.length).toBeGreaterThan(10);
  });

  it('answers on stdout: one object with --json, human lines without', () => {
    const data = join(root, 'hq-machine');
    const json = cardsys(['host', 'provision-store', '--data', data, '--store', 'A', '--name', 'Store A', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(json.json()).toMatchObject({
      ok: true,
      storeId: 'A',
      terminals: [{ terminalId: 'pos-1', dir: join(data, 'stores', 'A', 'terminals', 'pos-1') }],
      hub: { reloaded: false, command: expect.stringContaining(`nats-server --signal reload=${join(data, 'hq', 'nats-server.pid')}`) },
    });
    const human = cardsys(['host', 'provision-store', '--data', data, '--store', 'B', '--name', 'Store B']);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain(`store B provisioned; its bundle (secrets, keep it at the store): ${join(data, 'stores', 'B')}`);
    expect(human.stderr).toBe('');
    const config = cardsys(['host', 'nats-config', '--data', data, '--json']);
    expect(config.json()).toMatchObject({ ok: true, stores: 2, file: join(data, 'hq', 'nats-server.conf') });
  });
});
