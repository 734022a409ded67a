import { cardsysAsync as cardsys } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOAD_LIMITS } from '../../domain/index.js';
import { issueCard, startOneStoreWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';
import { openCounterDesk, type CounterDesk } from '../support/counter-desk.js';

// Head office's balance cap and daily load limit, met at the counter: a card behind pcscd + vpcd,
// loads asked for with `cardsys pos load` over NATS, the bank account read over HTTP.
describe('balance cap and daily load limit through the real counter', () => {
  let world: PurseWorld;
  let store: Store;
  let desk: CounterDesk;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld('s1', {
      loadLimits: { ...DEFAULT_LOAD_LIMITS, balanceCap: 20_000, dailyLoadLimit: 25_000 },
    }));
    desk = await openCounterDesk(world, store, { name: 'limits' });
  });
  afterAll(async () => {
    await desk?.close();
    await world?.close();
  });

  const posLoad = async (amount: number, json = true) => {
    const args = ['pos', 'load', '--store', 's1', '--amount', String(amount), '--pin', '1234', '--pin-key', desk.pinKeyFile];
    const result = await cardsys([...args, '--nats', world.backbone.nats.url, ...(json ? ['--json'] : [])]);
    return { ...result, reply: json ? JSON.parse(result.stdout) : undefined };
  };

  it('declines balance_cap and daily_limit with their codes; the chip and the account keep their money', async () => {
    const issued = await issueCard(world, { opening: 100_000 });
    const card = await desk.rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    const account = async () => {
      const response = await desk.request('bank-feed', { method: 'GET', url: `/v1/bank-accounts/${issued.bankId}` });
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
