import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { domainEventsOf } from '../../eventstore/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { issueCard, startOneStoreWorld, type IssuedCard, type PurseWorld, type Store } from '../../testkit/purse-world.js';
import { cardsysAsync as cardsys } from '../support/cli.js';
import { openCounterDesk, type CounterDesk } from '../support/counter-desk.js';

// The holder's PIN at the real counter: a card behind pcscd + vpcd, `cardsys pos` over NATS to the
// store's edge, head office's inquiry centre deciding the unblock against the registered user. The
// PIN commands and the blocked load go through `cardsys pos`; the loads around them go to the same
// edge in process (same card, same head office, no CLI start).
describe('PIN blocked, unblocked with head office, and changed, through the real counter', () => {
  const holder = { name: 'Sato Hanako', birthDate: '1990-04-01' };
  let world: PurseWorld;
  let store: Store;
  let desk: CounterDesk;
  let issued: IssuedCard;
  let card: SlotCard;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld('s1'));
    desk = await openCounterDesk(world, store, { name: 'pin' });
    issued = await issueCard(world, { opening: 100_000, pin: '1234', holder });
    card = await desk.rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
  });
  afterAll(async () => {
    await desk?.close();
    await world?.close();
  });

  const pos = async (args: string[]) => {
    const at = ['--store', 's1', '--pin-key', desk.pinKeyFile, '--nats', world.backbone.nats.url, '--json'];
    const result = await cardsys(['pos', ...args, ...at]);
    return { code: result.code, reply: JSON.parse(result.stdout) };
  };
  const load = (pin: string) => pos(['load', '--amount', '1000', '--pin', pin]);
  const loadInProcess = (pin: string) => store.command({ load: { amount: 1_000, pin } });
  const unblock = (name: string, birthDate: string, newPin: string) =>
    pos(['pin-unblock', '--name', name, '--birth-date', birthDate, '--new-pin', newPin]);
  const chipPin = () => {
    const { pinTriesLeft, pinResets } = card.state().issued!;
    return { pinTriesLeft, pinResets };
  };
  const hqEvents = async () => domainEventsOf(await world.backbone.store.readAll({ maxCount: 10_000 })).map(({ event }) => event);

  it('three wrong PINs block the PIN (6983): the load is refused, the right PIN too', async () => {
    expect(await loadInProcess('9999')).toMatchObject({ ok: false, code: 'wrong_pin', message: 'wrong PIN: 2 tries left' });
    expect(await loadInProcess('9999')).toMatchObject({ ok: false, code: 'wrong_pin', message: 'wrong PIN: 1 try left' });
    const blocked = await load('9999');
    expect(blocked).toMatchObject({ code: 2, reply: { ok: false, code: 'pin_blocked' } });
    expect(blocked.reply.message).toMatch(/^PIN blocked after too many wrong tries: .*unblocked at a store/);
    expect(await loadInProcess('1234')).toMatchObject({ ok: false, code: 'pin_blocked', balance: 0 });
    expect(chipPin()).toEqual({ pinTriesLeft: 0, pinResets: 0 });
  });

  it('refuses the unblock when the name or birth date do not match the registered user; the PIN stays blocked', async () => {
    const wrongName = await unblock('Sato Taro', holder.birthDate, '5678');
    expect(wrongName).toMatchObject({ code: 2, reply: { ok: false, code: 'identity_mismatch' } });
    expect(wrongName.reply.message).toContain("do not match the card's registered user");
    const wrongBirthDate = await store.command({ unblockPin: { name: holder.name, birthDate: '1990-04-02', newPin: '5678' } });
    expect(wrongBirthDate).toMatchObject({ ok: false, code: 'identity_mismatch' });
    expect(chipPin()).toEqual({ pinTriesLeft: 0, pinResets: 0 });
    const refusals = (await hqEvents()).filter((event) => event.type === 'PinUnblockRefused');
    expect(refusals.map((event) => event.data)).toEqual([
      expect.objectContaining({ cardId: issued.cardId, reason: 'identity_mismatch', storeId: 's1', terminalId: 's1/pos-1' }),
      expect.objectContaining({ cardId: issued.cardId, reason: 'identity_mismatch' }),
    ]);
  });

  it("unblocks with the holder's identity and head office's authorisation: a load with the new PIN works", async () => {
    const unblocked = await unblock('  sato   HANAKO ', holder.birthDate, '5678');
    expect(unblocked).toMatchObject({ code: 0, reply: { ok: true, code: 'pin_unblocked', cardId: issued.cardId } });
    expect(unblocked.reply.message).toContain('it was blocked');
    expect(chipPin()).toEqual({ pinTriesLeft: 3, pinResets: 1 });
    expect(await loadInProcess('1234')).toMatchObject({ ok: false, code: 'wrong_pin' });
    expect(await loadInProcess('5678')).toMatchObject({ ok: true, code: 'loaded', balance: 1_000 });
    await store.replicated();
    const events = await hqEvents();
    const authorised = events.find((event) => event.type === 'PinUnblockAuthorised');
    expect(authorised?.data).toMatchObject({ cardId: issued.cardId, pinResets: 0, storeId: 's1' });
    const recorded = events.find((event) => event.type === 'PinUnblocked');
    expect(recorded?.data).toMatchObject({ cardId: issued.cardId, pinResets: 1, storeId: 's1', terminalId: 's1/pos-1' });
    expect(recorded?.type === 'PinUnblocked' && recorded.data.authorizationId).toBe(
      authorised?.type === 'PinUnblockAuthorised' && authorised.data.authorizationId,
    );
  });

  it('changes the PIN after the old one: the old PIN is refused, the new one loads', async () => {
    const wrongOld = await store.command({ changePin: { pin: '1111', newPin: '2468' } });
    expect(wrongOld).toMatchObject({ ok: false, code: 'wrong_pin', message: 'wrong PIN: 2 tries left; the PIN is unchanged' });
    expect(await pos(['pin-change', '--pin', '5678', '--new-pin', '2468'])).toMatchObject({
      code: 0,
      reply: { ok: true, code: 'pin_changed', cardId: issued.cardId },
    });
    expect(await loadInProcess('5678')).toMatchObject({ ok: false, code: 'wrong_pin' });
    expect(await loadInProcess('2468')).toMatchObject({ ok: true, code: 'loaded', balance: 2_000 });
    await store.replicated();
    expect((await hqEvents()).filter((event) => event.type === 'PinChanged').map((event) => event.data)).toEqual([
      { cardId: issued.cardId, storeId: 's1', terminalId: 's1/pos-1' },
    ]);
    expect(world.centre.accountBalance(issued.bankId)).toBe(98_000);
  });
});
