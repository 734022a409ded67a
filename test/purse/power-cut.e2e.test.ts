// A retried command never runs twice, even after a power cut. The store's edge runs as its own
// process under the power-cut shim (test/support/fsync-shadow.c): cutting the power kills it and
// leaves its folder as the disk holds it, every write no fsync covered lost (edge.db runs with
// synchronous=NORMAL). The POS then retries with the same command id: the chip is debited once.
// Real parts: the deployment as provisioned, `cardsys edge` with a PC/SC reader, pcscd + vpcd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { startCounterDeployment, until, type CounterDeployment } from '../support/counter-processes.js';

let counters: CounterDeployment;

const purse = (card: SlotCard) => {
  const issued = card.state().issued!;
  return { balance: issued.balance, counter: issued.counter };
};

/** The store's pays of the card that head office holds: [counter, amount, recovered]. */
async function paysAtHeadOffice(cardId: string): Promise<Array<[number, number, boolean]>> {
  return (await counters.storeEvents('A')).flatMap(({ event }) =>
    event.type === 'PursePaid' && event.data.cardId === cardId
      ? [[event.data.cardCounter, event.data.amount, event.data.recovered] as [number, number, boolean]]
      : [],
  );
}

beforeAll(async () => {
  counters = await startCounterDeployment(['A']);
}, 120_000);

afterAll(async () => {
  await counters?.close();
});

describe('power cut at the counter', () => {
  it('after the pay was answered: the retry gets the first answer, the chip is debited once', async () => {
    const { cardId, card } = await counters.userWithCard('2200001', { opening: 50_000 });
    // A clean start and stop first: edge.db exists and is on disk before the power-cut run.
    const first = await counters.startEdge('A');
    expect(await counters.command('A', { load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });
    await first.stop();

    const edge = await counters.startEdge('A', { powerCut: true });
    const paid = await counters.command('A', { pay: { amount: 3_000 } }, { commandId: 'pay-answered' });
    expect(paid).toMatchObject({ ok: true, code: 'paid', balance: 7_000 });
    await edge.powerCut();

    const restarted = await counters.startEdge('A', { powerCut: true });
    expect(await counters.command('A', { pay: { amount: 3_000 } }, { commandId: 'pay-answered' })).toEqual(paid);
    expect(purse(card)).toEqual({ balance: 7_000, counter: 2 });
    await until(async () => ((await paysAtHeadOffice(cardId)).length > 0 ? true : undefined), 'the pay at head office');
    expect(await paysAtHeadOffice(cardId)).toEqual([[2, 3_000, false]]);
    await restarted.stop();
  }, 180_000);

  it("between the chip's debit and edge.db's commit: the retry is not run again, and the pay is recorded from the chip once", async () => {
    const { cardId, card } = await counters.userWithCard('2200002', { opening: 50_000 });
    const first = await counters.startEdge('A');
    expect(await counters.command('A', { load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });
    await first.stop();

    const edge = await counters.startEdge('A', { powerCut: true });
    card.card.loseAnswerTo(chipCommands.INS.DEBIT);
    const debited = new Promise<void>((resolve) => card.card.once('answer-lost', () => resolve()));
    const lost = counters
      .command('A', { pay: { amount: 2_500 } }, { commandId: 'pay-cut', timeoutMs: 10_000 })
      .catch((error: Error) => error);
    await debited;
    // The power goes: the edge dies, its unsynced writes are lost, the reader loses the card.
    await edge.powerCut();
    expect(await lost).toBeInstanceOf(Error);
    await card.remove();
    await card.insert();
    await card.disconnect();
    expect(purse(card)).toEqual({ balance: 7_500, counter: 2 });

    const restarted = await counters.startEdge('A', { powerCut: true });
    expect(await counters.command('A', { pay: { amount: 2_500 } }, { commandId: 'pay-cut' })).toMatchObject({
      ok: false,
      code: 'interrupted',
    });
    expect(purse(card)).toEqual({ balance: 7_500, counter: 2 });

    // The pay noted before the debit survived the cut: the next insertion records it from the chip's log.
    const read = await counters.command('A', { read: {} });
    expect(read).toMatchObject({
      ok: true,
      balance: 7_500,
      message: expect.stringContaining('earlier pay of ¥2,500 found on the card and recorded'),
    });
    await until(async () => ((await paysAtHeadOffice(cardId)).length > 0 ? true : undefined), 'the pay at head office');
    expect(await paysAtHeadOffice(cardId)).toEqual([[2, 2_500, true]]);
    const view = await until(async () => {
      const { json } = await counters.api('operator', 'GET', `/v1/cards/${cardId}/purse`);
      return json.purse?.counter === 2 ? json : undefined;
    }, "head office's purse view of the card");
    // Head office's shadow balance follows the chip: the recovered pay counted once, nothing to alert.
    expect(view).toMatchObject({ purse: { balance: 7_500, counter: 2 }, alerts: [] });
    await restarted.stop();
  }, 180_000);
});
