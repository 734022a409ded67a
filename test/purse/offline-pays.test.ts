import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipPurse, issueCard, startPurseWorld, until, type IssuedCard, type PurseWorld, type Store } from './harness.js';

const CARDS = 50;
const PAYS = 1_000;

describe('a store cut off from head office keeps taking pays', () => {
  let world: PurseWorld;
  let store: Store;

  beforeAll(async () => {
    world = await startPurseWorld(['s1']);
    store = await world.startStore('s1');
    await store.edge.nats;
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
