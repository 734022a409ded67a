import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { cardsysAsync as cardsys } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { savePinKey, terminalPinKey } from '../../contracts/index.js';
import { DEFAULT_LOAD_LIMITS } from '../../domain/index.js';
import { buildApi, headOfficeAccess, tokenFor } from '../../host/api/index.js';
import { purseRoutes } from '../../host/purse/index.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { issueCard, startOneStoreWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';

// Head office's balance cap and daily load limit, met at the counter: a card behind pcscd + vpcd,
// loads asked for with `cardsys pos load` over NATS, the bank account read over HTTP.
describe('balance cap and daily load limit through the real counter', () => {
  let world: PurseWorld;
  let store: Store;
  let rig: PcscRig;
  let api: FastifyInstance;
  let dir: string;
  let pinKeyFile: string;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld('s1', {
      loadLimits: { ...DEFAULT_LOAD_LIMITS, balanceCap: 20_000, dailyLoadLimit: 25_000 },
    }));
    rig = await openPcscRig(world.master.transport);
    dir = mkdtempSync(join(tmpdir(), 'cardsys-limits-'));
    pinKeyFile = join(dir, 'pin-key');
    savePinKey(terminalPinKey(store.pinMasterKey, 's1', 'pos-1'), pinKeyFile);
    api = await buildApi({
      store: world.backbone.store,
      runner: world.runner,
      plugins: [purseRoutes({ centre: () => world.centre, ledger: world.ledger })],
      access: headOfficeAccess(join(dir, 'hq'), world.backbone.hq),
    });
  });
  afterAll(async () => {
    await api?.close();
    await rig?.close();
    await world?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const posLoad = async (amount: number, json = true) => {
    const args = ['pos', 'load', '--store', 's1', '--amount', String(amount), '--pin', '1234', '--pin-key', pinKeyFile];
    const result = await cardsys([...args, '--nats', world.backbone.nats.url, ...(json ? ['--json'] : [])]);
    return { ...result, reply: json ? JSON.parse(result.stdout) : undefined };
  };

  it('declines balance_cap and daily_limit with their codes; the chip and the account keep their money', async () => {
    const issued = await issueCard(world, { opening: 100_000 });
    const card = await rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    const account = async () => {
      const response = await api.inject({
        method: 'GET',
        url: `/v1/bank-accounts/${issued.bankId}`,
        headers: { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), 'bank-feed')}` },
      });
      expect(response.statusCode).toBe(200);
      return (response.json() as { balance: number }).balance;
    };

    expect((await posLoad(15_000)).reply).toMatchObject({ ok: true, code: 'loaded', balance: 15_000 });
    const overCap = await posLoad(6_000);
    expect(overCap.code).toBe(2);
    expect(overCap.reply).toMatchObject({ ok: false, code: 'balance_cap', balance: 15_000 });
    expect(overCap.reply.message).toContain('at most ¥20,000');
    // Without --json the person at the counter reads the code and why.
    const printed = await posLoad(6_000, false);
    expect(printed.code).toBe(2);
    expect(printed.stdout).toMatch(/^refused \(balance_cap\): .*¥20,000.*¥5,000/);
    expect(await account()).toBe(85_000);

    expect((await posLoad(5_000)).reply).toMatchObject({ ok: true, balance: 20_000 });
    expect(await store.command({ pay: { amount: 10_000 } })).toMatchObject({ ok: true, balance: 10_000 });
    // The cap would take ¥6,000 more, but ¥20,000 of the day's ¥25,000 is loaded already.
    const overDay = await posLoad(6_000);
    expect(overDay.code).toBe(2);
    expect(overDay.reply).toMatchObject({ ok: false, code: 'daily_limit', balance: 10_000 });
    expect(overDay.reply.message).toContain('¥5,000 more');
    expect((await posLoad(5_000)).reply).toMatchObject({ ok: true, balance: 15_000 });
    expect(card.state().issued).toMatchObject({ balance: 15_000 });
    expect(await account()).toBe(75_000);
    expect(world.centre.accountBalance(issued.bankId)).toBe(75_000);
  });
});
