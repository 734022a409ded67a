import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../../card/index.js';
import { loadCardState } from '../../card/virtual/index.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { ISSUER, primaryIssue, storeTerminal } from './card-fixture.js';

const run = promisify(execFile);
const CLI = join(import.meta.dirname, '../../bin/cardsys.js');
let rig: PcscRig;
let child: ChildProcess | undefined;

beforeAll(async () => {
  rig = await openPcscRig(ISSUER.transport);
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await rig?.close();
});

describe('cardsys vcard', () => {
  it('makes a blank card, serves it through pcscd, and is pulled and re-inserted by signals', async () => {
    const stateFile = join(rig.directory, 'cli-card.json');
    await run('node', [CLI, 'vcard', 'new', '--state', stateFile, '--transport-key', toHex(ISSUER.transport)]);
    expect(loadCardState(stateFile).lifecycle).toBe('blank');
    await expect(run('node', [CLI, 'vcard', 'new', '--state', stateFile, '--transport-key', toHex(ISSUER.transport)])).rejects.toThrow(
      /exists; pass --force/,
    );

    const proc = spawn('node', [CLI, 'vcard', '--state', stateFile, '--reader', String(rig.slot.slot)], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    child = proc;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const { readerName } = rig.slot;

    await rig.readers.waitForCard(readerName, 20_000);
    const connection = await rig.readers.connect(readerName);
    const cardId = await primaryIssue(connection);
    await connection.disconnect();
    expect(loadCardState(stateFile).lifecycle).toBe('primary-issued');

    proc.kill('SIGUSR1');
    await rig.readers.waitForRemoval(readerName, 10_000);
    proc.kill('SIGUSR2');
    await rig.readers.waitForCard(readerName, 10_000);
    proc.stdin!.write('remove\n');
    await rig.readers.waitForRemoval(readerName, 10_000);
    proc.stdin!.write('insert\n');
    await rig.readers.waitForCard(readerName, 10_000);

    const again = await rig.readers.connect(readerName);
    const store = storeTerminal(again);
    await store.select();
    expect((await store.readInfo()).cardId).toBe(cardId);
    await again.disconnect();

    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    await rig.readers.waitForRemoval(readerName, 10_000);
  });

  it('says what is wrong with a missing or malformed state file', async () => {
    await expect(run('node', [CLI, 'vcard', '--reader', '0'])).rejects.toThrow(/--state <file> is required/);
    await expect(run('node', [CLI, 'vcard', '--state', join(rig.directory, 'none.json')])).rejects.toThrow(
      /cannot read card state file .*ENOENT/,
    );
    await expect(run('node', [CLI, 'vcard', '--state', CLI])).rejects.toThrow(/not valid JSON/);
    await expect(run('node', [CLI, 'vcard', 'new', '--state', join(rig.directory, 'x.json'), '--transport-key', 'abcd'])).rejects.toThrow(
      /16 bytes/,
    );
  });
});
