import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../contracts/index.js';
import { BooksReader, headOfficeProjections } from '../../projections/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { chipCommands } from '../../card/index.js';
import { chipPurse, issueCard, losingAnswerTo, startOneStoreWorld, until, type PurseWorld, type Store } from '../../testkit/purse-world.js';
import { cardsysAsync as cardsys } from '../support/cli.js';
import { openCounterDesk, type CounterDesk } from '../support/counter-desk.js';

// Refunds at the counter: a card behind pcscd + vpcd, pays and refunds sent with `cardsys pos` over
// NATS to the store's edge, head office's inquiry centre authorising each refund, its purse ledger
// and books (store clearing) kept from the host event store.
describe('refunds through the real counter', () => {
  let world: PurseWorld;
  let store: Store;
  let desk: CounterDesk;
  let card: SlotCard;
  let cardId: string;
  let books: BooksReader;

  const pos = async (args: string[]) => {
    const run = await cardsys(['pos', ...args, '--store', 's1', '--nats', world.backbone.nats.url, '--json']);
    return { code: run.code, reply: run.json<{ ok: boolean; code: string; message: string; balance: number; eventId: string }>() };
  };
  const pin = () => ['--pin', '1234', '--pin-key', desk.pinKeyFile];
  /** A pay at the terminal (in process: `pos pay` itself is run once, in the first scenario). */
  const pay = async (amount: number) => {
    const paid = await store.command({ pay: { amount } });
    expect(paid).toMatchObject({ ok: true, code: 'paid' });
    return paid.eventId;
  };
  const refund = (payEventId: string, amount?: number) =>
    pos(['refund', '--pay', payEventId, ...(amount === undefined ? [] : ['--amount', String(amount)]), ...pin()]);
  const chip = () => card.state().issued!;
  /** The store's refunds in its own log. */
  const refundsInLog = () =>
    store.edge.log
      .read(1, store.edge.log.headSeq)
      .filter((entry) => entry.envelope.eventType === 'PurseRefunded')
      .map(
        (entry) =>
          decodeEvent('PurseRefunded', entry.envelope.payload).data as {
            refundId: string;
            payEventId: string;
            amount: number;
            recovered: boolean;
          },
      );

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld('s1', { projections: headOfficeProjections }));
    books = new BooksReader(world.runner.db);
    desk = await openCounterDesk(world, store, { name: 'refund' });
    const issued = await issueCard(world, { opening: 100_000 });
    cardId = issued.cardId;
    card = await desk.rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    expect(await store.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });
  });
  afterAll(async () => {
    await desk?.close();
    await world?.close();
  });

  it("refunds a pay: the chip's balance is back up, head office's ledger and the store's takings show the refund; a second refund is refused", async () => {
    const paid = await pos(['pay', '--amount', '3000']);
    expect(paid.reply).toMatchObject({ ok: true, code: 'paid', balance: 7_000 });
    // `pos pay --json` prints the pay's event id, which the cashier names to refund it.
    const payId = paid.reply.eventId;
    expect(payId).toMatch(/^[0-9a-f-]{36}$/);
    expect(chip().balance).toBe(7_000);
    const refunded = await refund(payId);
    expect(refunded.code).toBe(0);
    expect(refunded.reply).toMatchObject({ ok: true, code: 'refunded', balance: 10_000 });
    expect(refunded.reply.message).toContain('refunded ¥3,000');
    expect(chip().balance).toBe(10_000);
    const [recorded] = refundsInLog();
    expect(recorded).toMatchObject({ payEventId: payId, amount: 3_000 });

    await store.replicated();
    await until(() => world.centre.refund(recorded!.refundId)?.status === 'completed', 'head office to record the refund completed');
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({
      balance: 10_000,
      pays: { count: 1, total: 3_000 },
      refunds: { count: 1, total: 3_000 },
      alerts: 0,
    });
    // The refund is charged to the store's takings: head office owes it its pays less its refunds.
    expect(books.openDay('s1')).toMatchObject({ pays: { count: 1, total: 3_000 }, refunds: { count: 1, total: 3_000 }, owedSoFar: 0 });

    const again = await refund(payId);
    expect(again.code).toBe(2);
    expect(again.reply).toMatchObject({ ok: false, code: 'already_refunded', balance: 10_000 });
    expect(again.reply.message).toContain('already refunded');
    expect(chip().balance).toBe(10_000);
  });

  it('refuses a refund over the paid amount; part of a pay is refunded', async () => {
    const payId = await pay(2_000);
    const over = await refund(payId, 2_500);
    expect(over.code).toBe(2);
    expect(over.reply).toMatchObject({ ok: false, code: 'refund_over_paid', balance: 8_000 });
    expect(over.reply.message).toContain('more than the ¥2,000 paid');
    expect(chip().balance).toBe(8_000);
    const part = () => store.command({ refund: { payEventId: payId, amount: 500, pin: '1234' } }, { commandId: 'refund-part' });
    const first = await part();
    expect(first).toMatchObject({ ok: true, code: 'refunded', balance: 8_500 });
    // A retry encrypts the PIN afresh (another PIN block): still the same command, answered with its first result.
    expect(await part()).toEqual(first);
    expect(chip().balance).toBe(8_500);
  });

  it('refuses a refund while the store is offline, with a clear message, and leaves the card untouched', async () => {
    const payId = await pay(1_000);
    const before = { ...chip() };
    store.link.cut();
    try {
      await until(() => !store.purse.link.online, 'the store to notice it is offline');
      // The terminal reaches the edge on the shop's LAN; the edge's line to head office is down.
      const offline = await store.command({ refund: { payEventId: payId, pin: '1234' } });
      expect(offline).toMatchObject({ ok: false, code: 'head_office_unreachable' });
      expect(offline.message).toContain("a refund needs head office's authorisation");
      expect(offline.message).toContain('nothing was refunded and the card was not touched');
      expect(chip()).toMatchObject({ balance: before.balance, counter: before.counter });
    } finally {
      store.link.restore();
    }
    await until(() => store.purse.link.online, 'the store to be back online');
  });

  it("records a refund whose card answer was lost at the card's next insertion, once", async () => {
    // The card's answer is lost after the chip committed the credit: an in-process card whose reader drops it.
    const other = await issueCard(world, { opening: 20_000 });
    store.readers.set('pos-1', other.card);
    expect(await store.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: true });
    const payId = await pay(1_500);
    store.readers.set('pos-1', losingAnswerTo(other.card, chipCommands.INS.CREDIT));
    const lost = await store.command({ refund: { payEventId: payId, pin: '1234' } }, { commandId: 'refund-lost' });
    expect(lost).toMatchObject({ ok: false, code: 'card_removed' });
    expect(chipPurse(other.card).balance).toBe(5_000);
    const before = refundsInLog().length;

    other.card.insert();
    store.readers.set('pos-1', other.card);
    const read = await store.command({ read: {} });
    expect(read).toMatchObject({ ok: true, balance: 5_000 });
    expect(read.message).toContain('earlier refund of ¥1,500 found on the card and recorded');
    const found = refundsInLog().slice(before);
    expect(found).toEqual([expect.objectContaining({ payEventId: payId, amount: 1_500, recovered: true })]);
    await store.replicated();
    await until(() => world.centre.refund(found[0]!.refundId)?.status === 'completed', 'head office to record the refund completed');
    expect((await store.command({ read: {} })).message).not.toContain('earlier refund');
    expect(await store.command({ refund: { payEventId: payId, pin: '1234' } })).toMatchObject({ ok: false, code: 'already_refunded' });
  });
});
