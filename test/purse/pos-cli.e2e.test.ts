import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cardsysAsync as cardsys } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savePinKey, terminalPinKey } from '../../contracts/index.js';
import { chipPurse, issueCard, startOneStoreWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';

describe('cardsys pos', () => {
  let world: PurseWorld;
  let store: Store;
  let dir: string;
  let pinKeyFile: string;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
    dir = mkdtempSync(join(tmpdir(), 'cardsys-pos-cli-'));
    pinKeyFile = join(dir, 'pin-key');
    savePinKey(terminalPinKey(store.pinMasterKey, 's1', 'pos-1'), pinKeyFile);
  });
  afterAll(async () => {
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('load, pay and read print one JSON object and exit 0; a refusal exits non-zero with its reason', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    const nats = world.backbone.nats.url;
    const load = await cardsys([
      'pos',
      'load',
      '--store',
      's1',
      '--amount',
      '3000',
      '--pin',
      '1234',
      '--pin-key',
      pinKeyFile,
      '--nats',
      nats,
      '--json',
    ]);
    expect(load.code).toBe(0);
    expect(JSON.parse(load.stdout)).toMatchObject({ ok: true, code: 'loaded', balance: 3_000, cardId });

    const pay = await cardsys(['pos', 'pay', '--store', 's1', '--amount', '500', '--nats', nats, '--json', '--command-id', 'cli-pay-1']);
    expect(pay.code).toBe(0);
    expect(JSON.parse(pay.stdout)).toMatchObject({ ok: true, code: 'paid', balance: 2_500 });
    const retried = await cardsys([
      'pos',
      'pay',
      '--store',
      's1',
      '--amount',
      '500',
      '--nats',
      nats,
      '--json',
      '--command-id',
      'cli-pay-1',
    ]);
    expect(JSON.parse(retried.stdout)).toMatchObject({ ok: true, balance: 2_500 });
    expect(chipPurse(card).balance).toBe(2_500);

    const declined = await cardsys(['pos', 'pay', '--store', 's1', '--amount', '9000', '--nats', nats, '--json']);
    expect(declined.code).toBe(2);
    expect(JSON.parse(declined.stdout)).toMatchObject({ ok: false, code: 'insufficient_balance', balance: 2_500 });

    const read = await cardsys(['pos', 'read', '--store', 's1', '--nats', nats, '--json']);
    expect(JSON.parse(read.stdout)).toMatchObject({ ok: true, balance: 2_500 });
    // Without --json the answer is for the person at the counter: on stdout, nothing on stderr.
    const human = await cardsys(['pos', 'read', '--store', 's1', '--nats', nats]);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ok \(\w+\): .*¥2,500/);
    expect(human.stderr).toBe('');
  });

  it('bad options are refused naming the option', async () => {
    const result = await cardsys(['pos', 'pay', '--store', 's1', '--amount', '12.5']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('--amount: amount must be whole yen');
    const help = await cardsys(['pos', 'load', '--help']);
    expect(help.stdout).toContain('--pin <pin>');
    expect(help.stdout).toContain('--pin-key <file>');
    const terminal = await cardsys(['pos', 'pay', '--store', 's1', '--terminal', 'pos 1', '--amount', '1']);
    expect(terminal.stderr).toContain('--terminal: terminal id must be 1-32 letters, digits, "-" or "_"');
    const noKey = await cardsys(['pos', 'load', '--store', 's1', '--amount', '1', '--pin', '1234', '--data', dir]);
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain(
      `--pin-key: terminal pos-1 has no PIN key at ${join(dir, 'stores', 's1', 'terminals', 'pos-1', 'pin-key')}`,
    );
  });
});
