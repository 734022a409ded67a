import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands, terminalIdOf } from '../../card/index.js';
import { decodeEvent, storeTerminalName, type cardsys, type Fields } from '../../contracts/index.js';
import { chipPurse, issueCard, losingAnswerTo, startPurseWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';

type Paid = Fields<cardsys.v1.PursePaid>;

function paysOf(store: Store, cardId: string): Paid[] {
  return store.edge.log
    .read(1, store.edge.log.headSeq)
    .filter((e) => e.envelope.eventType === 'PursePaid' && e.envelope.streamId === `card-${cardId}`)
    .map((e) => decodeEvent('PursePaid', e.envelope.payload).data as Paid);
}

describe('card pulled after the chip committed a pay, before its answer', () => {
  let world: PurseWorld;
  let s1: Store;
  let s2: Store;

  beforeAll(async () => {
    world = await startPurseWorld(['s1', 's2']);
    s1 = await world.startStore('s1');
    s2 = await world.startStore('s2');
    await Promise.all([s1.edge.nats, s2.edge.nats]);
  });
  afterAll(async () => {
    await world?.close();
  });

  it('the next insertion at the store finds the debit on the chip and records it once; head office closes the counter gap', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    s1.readers.set('pos-1', issued.card);
    expect(await s1.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });

    s1.readers.set('pos-1', losingAnswerTo(issued.card, chipCommands.INS.DEBIT));
    expect(await s1.command({ pay: { amount: 1_500 } }, { commandId: 'lost-pay-1' })).toMatchObject({ ok: false, code: 'card_removed' });
    expect(chipPurse(issued.card)).toEqual({ balance: 8_500, counter: 2 });
    expect(paysOf(s1, issued.cardId)).toEqual([]);

    // The card goes on at another store, which records its own pay and recovers nothing.
    issued.card.insert();
    s2.readers.set('pos-1', issued.card);
    expect(await s2.command({ pay: { amount: 700 } })).toMatchObject({ ok: true, balance: 7_800 });
    expect(paysOf(s2, issued.cardId).map((p) => [p.cardCounter, p.recovered])).toEqual([[3, false]]);
    await Promise.all([s1.replicated(), s2.replicated()]);
    await world.catchUpLedger();
    expect(world.ledger.alerts({ cardId: issued.cardId })).toEqual([expect.objectContaining({ kind: 'counter_gap', resolved: false })]);

    // Back at the first store, after a restart: a read is enough.
    await s1.restart();
    s1.readers.set('pos-1', issued.card);
    const read = await s1.command({ read: {} });
    expect(read).toMatchObject({ ok: true, balance: 7_800 });
    expect(read.message).toContain('earlier pay of ¥1,500 found on the card and recorded');
    const [found] = issued.card.state.issued!.log.filter((entry) => entry.counter === 2);
    // Recorded as the terminal names itself, whose chip id the card logged (and MACed), under the
    // command id of the pay that took the money, not the read's.
    expect(Buffer.from(found!.terminalId)).toEqual(Buffer.from(terminalIdOf(storeTerminalName('s1', 'pos-1'))));
    expect(paysOf(s1, issued.cardId)).toEqual([
      expect.objectContaining({
        amount: 1_500,
        newBalance: 8_500,
        cardCounter: 2,
        storeId: 's1',
        terminalId: storeTerminalName('s1', 'pos-1'),
        cardMac: found!.mac,
        recovered: true,
      }),
    ]);
    const recorded = s1.edge.log.read(1, s1.edge.log.headSeq).filter((e) => e.envelope.eventType === 'PursePaid');
    expect(recorded.map((e) => e.envelope.commandId)).toEqual(['lost-pay-1']);
    expect(await s1.command({ status: { commandId: 'lost-pay-1' } })).toMatchObject({
      ok: true,
      code: 'recovered',
      eventId: recorded[0]!.envelope.eventId,
      status: { state: 'recovered', kind: 'pay', cardCounter: 2, amount: 1_500, reply: { code: 'card_removed' } },
    });

    // Never twice: neither at the next insertion nor after another restart.
    expect((await s1.command({ read: {} })).message).not.toContain('found on the card');
    await s1.restart();
    expect(await s1.command({ pay: { amount: 300 } })).toMatchObject({ ok: true, balance: 7_500 });
    expect(paysOf(s1, issued.cardId).map((p) => [p.cardCounter, p.recovered])).toEqual([
      [2, true],
      [4, false],
    ]);
    expect(paysOf(s2, issued.cardId)).toHaveLength(1);

    await Promise.all([s1.replicated(), s2.replicated()]);
    await world.catchUpLedger();
    expect(world.ledger.card(issued.cardId)).toMatchObject({
      balance: chipPurse(issued.card).balance,
      counter: 4,
      pays: { count: 3, total: 2_500 },
    });
    expect(world.ledger.alerts({ cardId: issued.cardId })).toEqual([expect.objectContaining({ kind: 'counter_gap', resolved: true })]);
  });

  it('pulled before the chip committed: the next insertion finds no debit and records nothing', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    s1.readers.set('pos-1', issued.card);
    expect(await s1.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: true });
    issued.card.pullDuring(chipCommands.INS.DEBIT);
    expect(await s1.command({ pay: { amount: 1_000 } })).toMatchObject({ ok: false, code: 'card_removed' });
    issued.card.insert();
    const read = await s1.command({ read: {} });
    expect(read).toMatchObject({ ok: true, balance: 5_000 });
    expect(read.message).not.toContain('found on the card');
    expect(await s1.command({ pay: { amount: 1_000 } })).toMatchObject({ ok: true, balance: 4_000 });
    expect(paysOf(s1, issued.cardId).map((p) => [p.cardCounter, p.recovered])).toEqual([[2, false]]);
  });
});
