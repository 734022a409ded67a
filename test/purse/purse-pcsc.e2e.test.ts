import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import { pcscTerminalReaders } from '../../reader/index.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { issueCard, startOneStoreWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';

// The same purse flows with the card behind the real PC/SC stack: pcsclite → pcscd → vpcd → the
// virtual card.
describe('purse through pcscd + vpcd', () => {
  let world: PurseWorld;
  let store: Store;
  let rig: PcscRig;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
    rig = await openPcscRig(world.master.transport);
  });
  afterAll(async () => {
    await rig?.close();
    await world?.close();
  });

  it('the worked example: 3,000 + 10,000 = 13,000, pay 5,500 leaves 7,500; ledger and account agree', async () => {
    const issued = await issueCard(world, { opening: 50_000 });
    const card = await rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    expect(await store.command({ load: { amount: 3_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 3_000 });
    expect(await store.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 13_000 });
    expect(await store.command({ pay: { amount: 5_500 } })).toMatchObject({ ok: true, balance: 7_500 });
    expect(await store.command({ pay: { amount: 7_501 } })).toMatchObject({ ok: false, code: 'insufficient_balance', balance: 7_500 });
    expect(card.state().issued).toMatchObject({ balance: 7_500, counter: 3 });
    await store.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(issued.cardId)).toMatchObject({ balance: 7_500, counter: 3, alerts: 0 });
    expect(world.ledger.accountBalance(issued.bankId)).toBe(37_000);
    expect(world.centre.accountBalance(issued.bankId)).toBe(37_000);
  });

  it('card pulled during the credit: the next load at this reader completes the first one too', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    const card = await rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    card.card.pullDuring(chipCommands.INS.CREDIT);
    expect(await store.command({ load: { amount: 4_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'card_removed' });
    await card.remove();
    await card.insert();
    expect(card.state().issued).toMatchObject({ balance: 0, counter: 0 });
    expect(await store.command({ load: { amount: 1_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 5_000 });
    expect(world.centre.accountBalance(issued.bankId)).toBe(15_000);
    expect(card.state().issued).toMatchObject({ balance: 5_000, counter: 2 });
  });

  it("the counter's terminal readers: a card taken out and put back is paid from again", async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    const card = await rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    await store.command({ load: { amount: 2_000, pin: '1234' } });
    // Hand the reader over from the rig's connection to the terminal mapping.
    await card.remove();
    const readerName = rig.slot.readerName;
    const terminalReaders = pcscTerminalReaders(rig.readers, () => readerName);
    await card.card.insert();
    await rig.readers.waitForCard(readerName, 10_000);
    store.readers.set('pos-2', await terminalReaders('pos-2'));
    expect(await store.command({ pay: { amount: 300 } }, { terminalId: 'pos-2' })).toMatchObject({ ok: true, balance: 1_700 });

    await card.card.remove();
    await rig.readers.waitForRemoval(readerName, 10_000);
    expect(await store.command({ pay: { amount: 300 } }, { terminalId: 'pos-2' })).toMatchObject({ ok: false, code: 'card_removed' });
    await card.card.insert();
    await rig.readers.waitForCard(readerName, 10_000);
    store.readers.set('pos-2', await terminalReaders('pos-2'));
    expect(await store.command({ pay: { amount: 300 } }, { terminalId: 'pos-2' })).toMatchObject({ ok: true, balance: 1_400 });
  });
});
