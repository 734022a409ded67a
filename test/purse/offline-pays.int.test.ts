import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chipPurse,
  issueCard,
  startOneStoreWorld,
  startPurseWorld,
  until,
  type IssuedCard,
  type PurseWorld,
  type Store,
} from '../../testkit/purse-world.js';

const CARDS = 50;
const PAYS = 1_000;

describe('a store cut off from head office keeps taking pays', () => {
  let world: PurseWorld;
  let store: Store;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
  });
  afterAll(async () => {
    await world?.close();
  });

  it('1,000 pays across 50 cards while offline; after reconnecting, head office shadow balances equal the chips', async () => {
    const cards: IssuedCard[] = [];
    for (let i = 0; i < CARDS; i++) {
      const issued = await issueCard(world, { opening: 100_000 });
      store.readers.set(`pos-${i}`, issued.card);
      expect(await store.command({ load: { amount: 20_000, pin: '1234' } }, { terminalId: `pos-${i}` })).toMatchObject({ ok: true });
      cards.push(issued);
    }
    await store.replicated();
    const confirmedBefore = store.edge.replicator.progress().confirmedSeq;

    store.link.cut();
    await until(() => !store.purse.link.online, 'the store to go offline');
    let paid = 0;
    for (let i = 0; i < PAYS; i++) {
      const reply = await store.command({ pay: { amount: 1 + ((i * 37) % 300) } }, { terminalId: `pos-${i % CARDS}` });
      if (reply.ok) paid++;
    }
    expect(paid).toBe(PAYS);
    expect(store.edge.replicator.progress()).toMatchObject({ confirmedSeq: confirmedBefore, unconfirmed: PAYS });

    store.link.restore();
    await store.replicated();
    await world.catchUpLedger();
    for (const { cardId, card } of cards) {
      const shadow = world.ledger.card(cardId)!;
      expect(shadow.balance).toBe(chipPurse(card).balance);
      expect(shadow.counter).toBe(chipPurse(card).counter);
      expect(shadow.pays.count).toBe(PAYS / CARDS);
    }
    expect(world.ledger.alerts()).toEqual([]);
  });
});

describe('a card used at a store that is offline, then at another that is online', () => {
  let world: PurseWorld;

  beforeAll(async () => {
    world = await startPurseWorld(['s1', 's2']);
  });
  afterAll(async () => {
    await world?.close();
  });

  it("the online store's later pays reach head office first; the offline store's arrive late and fill the gap", async () => {
    const [s1, s2] = [await world.startStore('s1'), await world.startStore('s2')];
    await Promise.all([s1.edge.nats, s2.edge.nats]);
    const { card, cardId } = await issueCard(world);
    s1.readers.set('pos-1', card);
    await s1.command({ load: { amount: 10_000, pin: '1234' } });
    await s1.replicated();
    s1.link.cut();
    await until(() => !s1.purse.link.online, 'store 1 to go offline');
    for (const amount of [100, 200, 300]) expect(await s1.command({ pay: { amount } })).toMatchObject({ ok: true });
    s2.readers.set('pos-1', card);
    expect(await s2.command({ pay: { amount: 400 } })).toMatchObject({ ok: true, balance: 9_000 });
    await s2.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({ balance: 9_000, counter: 5, pays: { count: 1, total: 400 } });
    expect(world.ledger.alerts({ cardId })).toMatchObject([{ kind: 'counter_gap', resolved: false }]);

    s1.link.restore();
    await s1.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({
      balance: 9_000,
      counter: 5,
      pays: { count: 4, total: 1_000 },
      loads: { count: 1, total: 10_000 },
    });
    expect(world.ledger.alerts({ cardId })).toMatchObject([{ kind: 'counter_gap', resolved: true }]);
    expect(chipPurse(card)).toEqual({ balance: 9_000, counter: 5 });
  });
});
