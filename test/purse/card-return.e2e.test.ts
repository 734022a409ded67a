import { cardsysAsync as cardsys } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import { pb } from '../../contracts/index.js';
import type { Role } from '../../host/api/index.js';
import { headOfficeProjections } from '../../projections/index.js';
import { issueCard, losingAnswerTo, startOneStoreWorld, until, type PurseWorld, type Store } from '../../testkit/purse-world.js';
import { openCounterDesk, type CounterDesk } from '../support/counter-desk.js';

// A card handed back at the counter: a card behind pcscd + vpcd, `cardsys pos` over NATS to the
// store's edge, head office's consent and books, the bank account and the user DB read over HTTP.
describe('card return through the real counter', () => {
  let world: PurseWorld;
  let store: Store;
  let desk: CounterDesk;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld('s1', { projections: headOfficeProjections }));
    desk = await openCounterDesk(world, store, { name: 'return' });
  });
  afterAll(async () => {
    await desk?.close();
    await world?.close();
  });

  const pos = async (...args: string[]) => {
    const result = await cardsys([
      'pos',
      ...args,
      '--store',
      's1',
      '--pin-key',
      desk.pinKeyFile,
      '--nats',
      world.backbone.nats.url,
      '--json',
    ]);
    return { code: result.code, reply: JSON.parse(result.stdout) };
  };
  const get = async (url: string, role: Role) => {
    const response = await desk.request(role, { method: 'GET', url });
    expect(response.statusCode).toBe(200);
    return response.json();
  };

  it('unloads the balance to the bank account, closes the card at head office and terminates it for every store', async () => {
    const issued = await issueCard(world, { opening: 100_000 });
    const card = await desk.rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);

    // The terminal's commands in process (as from the terminal, through the same card reader) where
    // the CLI adds nothing but seconds; the return and a load after it go through `cardsys pos`.
    expect(await store.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });
    expect(await store.command({ pay: { amount: 2_500 } })).toMatchObject({ ok: true, balance: 7_500 });

    // Offline: refused with a clear message, the card untouched.
    store.link.cut();
    await until(() => !store.purse.link.online, 'the store to go offline');
    const offline = await store.command({ cardReturn: { pin: '1234' } });
    expect(offline).toMatchObject({ ok: false, code: 'head_office_unreachable' });
    expect(offline.message).toContain('only with head office');
    store.link.restore();
    await until(() => store.purse.link.online, 'the store to be online again');

    expect(await store.command({ cardReturn: { pin: '9999' } })).toMatchObject({ ok: false, code: 'wrong_pin' });
    expect(card.state()).toMatchObject({ lifecycle: 'primary-issued', issued: { balance: 7_500 } });

    const returned = await pos('return', '--pin', '1234');
    expect(returned).toMatchObject({ code: 0, reply: { ok: true, code: 'returned', cardId: issued.cardId, balance: 0 } });
    expect(returned.reply.message).toContain('¥7,500');
    expect(card.state()).toMatchObject({ lifecycle: 'terminated', issued: { balance: 0 } });

    // Head office credits the account with what the chip unloaded once the store's log arrives.
    await store.replicated();
    const account = () => get(`/v1/bank-accounts/${issued.bankId}`, 'bank-feed');
    await until(async () => (await account()).balance === 97_500, 'the account to be credited');
    await world.catchUpLedger();
    const shown = await get(`/v1/cards/${issued.cardId}`, 'operator');
    expect(shown).toMatchObject({
      closed: { reason: 'returned', storeId: 's1', unloadedAmount: 7_500 },
      usage: { lastOperation: 'unload' },
    });
    expect(world.ledger.card(issued.cardId)).toMatchObject({ balance: 0 });
    expect(world.ledger.alerts()).toEqual([]);

    // Refused everywhere: the chip (6285), the store (card_terminated), head office (card_closed).
    expect(await pos('load', '--amount', '1000', '--pin', '1234')).toMatchObject({
      code: 2,
      reply: { ok: false, code: 'card_terminated' },
    });
    expect(await store.command({ pay: { amount: 100 } })).toMatchObject({ ok: false, code: 'card_terminated' });
    expect(await store.command({ cardReturn: { pin: '1234' } })).toMatchObject({ ok: false, code: 'card_terminated' });
    const load = pb.InquiryRequest.encode({
      storeId: 's1',
      terminalId: 's1/pos-1',
      authorise: { authorizationId: '00'.repeat(8), cardId: issued.cardId, bankId: issued.bankId, amount: 1_000, cardCounter: 3 },
    }).finish();
    await expect(world.centre.inquire('s1', load)).rejects.toMatchObject({ code: 'card_closed' });
    expect((await account()).balance).toBe(97_500);
  });

  it('a card pulled after the chip took TERMINATE is recorded from its termination record at the next return, once', async () => {
    const issued = await issueCard(world, { opening: 50_000 });
    const terminal = { terminalId: 'pos-2' };
    store.readers.set('pos-2', issued.card);
    expect(await store.command({ load: { amount: 4_000, pin: '1234' } }, terminal)).toMatchObject({ ok: true, balance: 4_000 });
    store.readers.set('pos-2', losingAnswerTo(issued.card, chipCommands.INS.TERMINATE));
    expect(await store.command({ cardReturn: { pin: '1234' } }, terminal)).toMatchObject({ ok: false, code: 'card_removed' });
    expect(issued.card.state.lifecycle).toBe('terminated');

    issued.card.insert();
    store.readers.set('pos-2', issued.card);
    const found = await store.command({ cardReturn: { pin: '1234' } }, terminal);
    expect(found).toMatchObject({ ok: true, code: 'returned', balance: 0 });
    expect(found.message).toContain('found on the card');
    // Recorded once: the next insertion is only refused.
    expect(await store.command({ cardReturn: { pin: '1234' } }, terminal)).toMatchObject({ ok: false, code: 'card_terminated' });
    await store.replicated();
    await until(() => world.centre.accountBalance(issued.bankId) === 50_000, 'the account to be credited');
    await world.catchUpLedger();
    expect(world.ledger.alerts()).toEqual([]);
  });
});
