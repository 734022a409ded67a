// The service files in infra/deploy: every systemd unit is one systemd accepts, and every command a
// unit runs parses with the example configuration file it reads (a key the command does not have,
// in the command's section, would be refused).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { natsServerBinary } from '../../infra/nats/index.js';
import { cardsys } from '../support/cli.js';

const DEPLOY = join(import.meta.dirname, '..', '..', 'infra', 'deploy');
const UNITS = readdirSync(join(DEPLOY, 'systemd')).filter((name) => name.endsWith('.service'));
/** Which example configuration each unit's --config names. */
const EXAMPLE_OF: Record<string, string> = { '/etc/cardsys/host.conf': 'host.conf', '/etc/cardsys/store-%i.conf': 'store.conf' };

const root = mkdtempSync(join(tmpdir(), 'cardsys-deploy-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const execStartOf = (unit: string) => /^ExecStart=(.+)$/m.exec(readFileSync(join(DEPLOY, 'systemd', unit), 'utf8'))?.[1];

describe('infra/deploy', () => {
  it('holds a unit for the hub, head office, and each store’s broker and edge', () => {
    expect(UNITS.sort()).toEqual(['cardsys-edge@.service', 'cardsys-host.service', 'cardsys-hub.service', 'cardsys-store-broker@.service']);
  });

  it('every unit passes systemd-analyze verify', () => {
    const which = spawnSync('systemd-analyze', ['--version']);
    if (which.error) {
      console.log(`systemd-analyze is not installed (${which.error.message}): the units are not verified here`);
      return;
    }
    // The binaries as this machine has them; the instance units as store A's.
    const cardsysBin = join(root, 'cardsys');
    writeFileSync(cardsysBin, '#!/bin/sh\nexit 0\n');
    chmodSync(cardsysBin, 0o755);
    const nats = spawnSync('sh', ['-c', `command -v ${natsServerBinary()}`], { encoding: 'utf8' }).stdout.trim();
    const files = UNITS.map((unit) => {
      const file = join(root, unit.replace('@.', '@A.'));
      const text = readFileSync(join(DEPLOY, 'systemd', unit), 'utf8')
        .replaceAll('/usr/local/bin/cardsys', cardsysBin)
        .replaceAll('/usr/bin/nats-server', nats);
      writeFileSync(file, text);
      return file;
    });
    const verified = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
    expect(verified.status, verified.stderr).toBe(0);
  });

  it.each(UNITS.filter((unit) => execStartOf(unit)?.startsWith('/usr/local/bin/cardsys')))(
    '%s runs a cardsys command that parses with its example configuration',
    (unit) => {
      const args = execStartOf(unit)!.split(/\s+/).slice(1);
      const at = args.indexOf('--config');
      expect(at, 'the unit names its configuration file').toBeGreaterThan(0);
      args[at + 1] = join(DEPLOY, 'config', EXAMPLE_OF[args[at + 1]!]!);
      const run = cardsys([...args.map((arg) => arg.replaceAll('%i', 'A')), '--help']);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`Usage: cardsys ${args[0]}`);
    },
  );
});
