// README's "Deploy" section, run as it stands: its shell blocks are read out of README.md and run,
// each machine (head office, store A, the POS terminal) in a bash of its own with its own folder and
// --data, the variables of the section's table set as an operator would, and the archives carried
// between machines as the section says. It ends with a pay, and head office's view of the card.
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../infra/index.js';
import { ensurePcscd, leaseVpcdSlot, type SlotLease } from '../../infra/pcsc/index.js';
import { cardsys } from '../support/cli.js';

const ROOT = join(import.meta.dirname, '..', '..');
type Step = { kind: 'run'; machine: string; script: string } | { kind: 'carry'; from: string; to: string; files: string[] };

/** The steps of README's Deploy section: `<!-- deploy: <machine> -->` before a sh block, `<!-- deploy: carry … -->`. */
function deploySteps(readme: string): Step[] {
  const section = readme.slice(readme.indexOf('\n## Deploy\n'));
  const body = section.slice(0, section.indexOf('\n## ', 1));
  const lines = body.split('\n');
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- deploy: (.+?) -->$/.exec(lines[i]!);
    if (!marker) continue;
    const words = marker[1]!.split(/\s+/);
    if (words[0] === 'carry') {
      steps.push({ kind: 'carry', from: words[1]!, to: words[2]!, files: words.slice(3) });
      continue;
    }
    if (lines[i + 1] !== '```sh') throw new Error(`README Deploy: the marker "${marker[0]}" is not followed by a sh block`);
    const end = lines.indexOf('```', i + 2);
    steps.push({ kind: 'run', machine: words[0]!, script: lines.slice(i + 2, end).join('\n') });
    i = end;
  }
  return steps;
}

/** A terminal on one machine: one bash that keeps its variables and background jobs between blocks. */
class MachineShell {
  readonly proc: ChildProcess;
  private output = '';
  private blocks = 0;
  private readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly dir: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.proc = spawn('bash', ['--noprofile', '--norc'], { cwd: dir, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    for (const stream of [this.proc.stdout!, this.proc.stderr!])
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        this.output += chunk;
      });
    this.exited = new Promise((settle) => this.proc.once('exit', (code) => settle(code)));
    this.proc.stdin!.write('set -eo pipefail\n');
  }

  get log(): string {
    return this.output;
  }

  /** Runs the block as its own file sourced in the shell; resolves with what the block printed. */
  async run(script: string, timeoutMs: number): Promise<string> {
    const n = ++this.blocks;
    const file = join(this.dir, `.deploy-${n}.sh`);
    writeFileSync(file, `${script}\n`);
    const done = `__deploy block ${n} done__`;
    const from = this.output.length;
    this.proc.stdin!.write(`source ${JSON.stringify(file)}\necho ${JSON.stringify(done)}\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.output.indexOf(done, from);
      if (at >= 0) return this.output.slice(from, at);
      if (this.proc.exitCode !== null)
        throw new Error(
          `${this.name}: a command failed (exit ${this.proc.exitCode}) in:\n${script}\n--- output:\n${this.output.slice(from)}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `${this.name}: block ${n} did not finish within ${timeoutMs / 1000} s:\n${script}\n--- output:\n${this.output.slice(from)}`,
        );
      await new Promise((settle) => setTimeout(settle, 100));
    }
  }

  /** Stops the shell and every job it started (its own process group). */
  async close(): Promise<void> {
    const group = -this.proc.pid!;
    try {
      process.kill(group, 'SIGTERM');
    } catch {}
    const ended = await Promise.race([this.exited.then(() => true), new Promise((settle) => setTimeout(() => settle(false), 10_000))]);
    await new Promise((settle) => setTimeout(settle, ended ? 3_000 : 0));
    try {
      process.kill(group, 'SIGKILL');
    } catch {}
  }
}

describe("README's Deploy section, by its own commands", () => {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-readme-deploy-'));
  const shells = new Map<string, MachineShell>();
  const leases: SlotLease[] = [];
  let apiPort = 0;

  beforeAll(async () => {
    await ensurePcscd();
    leases.push(await leaseVpcdSlot(), await leaseVpcdSlot());
    const [hub, leaf, api, broker] = [await freePort(), await freePort(), await freePort(), await freePort()];
    apiPort = api;
    // `cardsys` on PATH, as `npm link` puts it there.
    const bin = join(root, 'bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'cardsys'),
      `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, 'bin', 'cardsys.js'))} "$@"\n`,
    );
    chmodSync(join(bin, 'cardsys'), 0o755);
    const [hq, store] = [leases[0]!.slot, leases[1]!.slot];
    for (const machine of ['hq', 'store', 'pos']) {
      const dir = join(root, machine);
      mkdirSync(join(dir, 'data'), { recursive: true });
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      for (const name of ['NATS_URL', 'NATS_CREDS', 'NATS_TLS_CA', 'CARDSYS_DATA', 'CARDSYS_CONFIG']) delete env[name];
      Object.assign(env, {
        DATA: join(dir, 'data'),
        HQ_HOST: '127.0.0.1',
        STORE_HOST: '127.0.0.1',
        HUB_PORT: String(hub),
        LEAF_PORT: String(leaf),
        API_PORT: String(api),
        BROKER_PORT: String(broker),
        HQ_READER: hq.readerName,
        HQ_SLOT: String(hq.slot),
        STORE_READER: store.readerName,
        STORE_SLOT: String(store.slot),
      });
      shells.set(machine, new MachineShell(machine, dir, env));
    }
  });
  afterAll(async () => {
    for (const shell of [...shells.values()].reverse()) await shell.close();
    for (const lease of leases) lease.release();
    rmSync(root, { recursive: true, force: true });
  });

  it('provisions head office, runs store A with its broker and a POS terminal on their own machines, and ends with a pay', async () => {
    const steps = deploySteps(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(steps.map((step) => (step.kind === 'run' ? step.machine : `carry ${step.from}→${step.to}`))).toEqual([
      'hq',
      'hq',
      'hq',
      'carry hq→store',
      'carry hq→pos',
      'store',
      'pos',
    ]);
    let last = '';
    for (const step of steps) {
      if (step.kind === 'carry') {
        for (const file of step.files) copyFileSync(join(root, step.from, file), join(root, step.to, file));
        continue;
      }
      last = await shells.get(step.machine)!.run(step.script, 180_000);
    }
    expect(last).toMatch(/^ok \(issued\)/m);
    expect(last).toMatch(/^ok \(loaded\): .*balance ¥10,000/m);
    expect(last).toMatch(/^ok \(paid\): paid ¥5,500; balance ¥4,500$/m);

    // Head office's view of the card, once store A has replicated the pay.
    const hqData = join(root, 'hq', 'data');
    const token = cardsys(['host', 'token', '--data', hqData, '--role', 'clerk', '--subject', 'test']).stdout.trim();
    const get = async (path: string) =>
      (await fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: `Bearer ${token}` } })).json() as Promise<
        Record<string, unknown>
      >;
    const userId = (await shells.get('hq')!.run('echo "user=$USER_ID"', 10_000)).match(/user=(\S+)/)![1]!;
    const user = (await get(`/v1/users/${userId}`)) as { cards: Array<{ cardId: string }> };
    expect(user.cards).toHaveLength(1);
    await expect
      .poll(() => get(`/v1/cards/${user.cards[0]!.cardId}/purse`), { timeout: 60_000, interval: 500 })
      .toMatchObject({ purse: { balance: 4_500 }, alerts: [] });
  }, 600_000);
});
