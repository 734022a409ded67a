import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/index.js';
import { startNatsServer } from '../../infra/nats/index.js';
import { EventLog } from '../../edge/index.js';
import { purchase } from '../../testkit/backbone.js';

const root = mkdtempSync(join(tmpdir(), 'cardsys-edge-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const cli = join(import.meta.dirname, '..', '..', 'bin', 'cardsys.js');

describe('cardsys edge', () => {
  it('makes the store key on first run, runs until SIGTERM, and reports status', async () => {
    const nats = await startNatsServer({ dataDir: join(root, 'nats') });
    try {
      const data = join(root, 'data');
      const child = spawn(process.execPath, [cli, 'edge', '--store', 's1', '--data', data, '--nats', nats.url], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`edge exited early (${code}): ${stderr}`)));
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
          if (stderr.includes('edge s1: log head 0')) resolve();
        });
      });
      child.removeAllListeners('exit');
      const publicKeyFile = join(data, 'stores', 's1', 'signing-key.pub.pem');
      expect(stderr).toContain(`made the store signing key; register its public key with head office: ${publicKeyFile}`);
      expect(existsSync(publicKeyFile)).toBe(true);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);

      const log = await EventLog.open({ dir: join(data, 'stores', 's1', 'log'), storeId: 's1' });
      await log.append([purchase(1), purchase(2), purchase(3)]);
      await log.close();
      const status = spawnSync(process.execPath, [cli, 'edge', 'status', '--store', 's1', '--data', data, '--json'], { encoding: 'utf8' });
      expect(status.status).toBe(0);
      expect(JSON.parse(status.stdout)).toEqual({ ok: true, storeId: 's1', headSeq: 3, confirmedSeq: 0, unconfirmed: 3 });

      const bad = spawnSync(process.execPath, [cli, 'edge', 'status', '--store', 'no such', '--data', data], { encoding: 'utf8' });
      expect(bad.status).not.toBe(0);
      expect(bad.stderr).toContain('--store: store id must be 1-32 letters');

      // With --metrics the edge serves its metrics: the three events head office has not confirmed.
      const port = await freePort();
      const metered = spawn(
        process.execPath,
        [cli, 'edge', '--store', 's1', '--data', data, '--nats', nats.url, '--metrics', `127.0.0.1:${port}`],
        {
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let said = '';
      await new Promise<void>((resolve, reject) => {
        metered.once('exit', (code) => reject(new Error(`edge exited early (${code}): ${said}`)));
        metered.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          said += chunk;
          if (said.includes(`metrics at http://127.0.0.1:${port}/metrics`)) resolve();
        });
      });
      metered.removeAllListeners('exit');
      const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(scraped).toMatch(/^cardsys_edge_unconfirmed_events 3$/m);
      expect(scraped).toMatch(/^cardsys_nats_reconnects\{part="edge"\} 0$/m);
      const stoppedMetered = new Promise<number | null>((resolve) => metered.once('exit', resolve));
      metered.kill('SIGTERM');
      expect(await stoppedMetered).toBe(0);
      const badMetrics = spawnSync(process.execPath, [cli, 'edge', '--store', 's1', '--data', data, '--metrics', 'nowhere'], {
        encoding: 'utf8',
      });
      expect(badMetrics.status).not.toBe(0);
      expect(badMetrics.stderr).toContain('--metrics: expected <host:port>');
    } finally {
      await nats.stop();
    }
  });
});
