import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { terminalIdOf, toHex } from '../../card/index.js';
import { decodeEvent } from '../../contracts/index.js';
import { sendPosCommand } from '../../edge/pos/index.js';
import { BlacklistCache } from '../../edge/purse/index.js';
import { chipPurse, issueCard, startOneStoreWorld, until, type PurseWorld, type Store } from '../../testkit/purse-world.js';

describe('purse: load with online authorisation, pay, blacklist, idempotent commands', () => {
  let world: PurseWorld;
  let store: Store;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
  });
  afterAll(async () => {
    await world?.close();
  });

  it('the worked example: 3,000 + 10,000 = 13,000, pay 5,500 leaves 7,500; ledger and bank account agree', async () => {
    const { card, cardId, bankId } = await issueCard(world, { opening: 50_000 });
    store.readers.set('pos-1', card);
    expect(await store.command({ load: { amount: 3_000, pin: '1234' } })).toMatchObject({
      ok: true,
      code: 'loaded',
      balance: 3_000,
      cardId,
    });
    expect(await store.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, code: 'loaded', balance: 13_000 });
    expect(await store.command({ pay: { amount: 5_500 } })).toMatchObject({ ok: true, code: 'paid', balance: 7_500 });
    expect(chipPurse(card)).toEqual({ balance: 7_500, counter: 3 });
    expect(world.centre.accountBalance(bankId)).toBe(50_000 - 13_000);

    await store.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({
      balance: 7_500,
      counter: 3,
      loads: { count: 2, total: 13_000 },
      pays: { count: 1, total: 5_500 },
      alerts: 0,
    });
    expect(world.ledger.accountBalance(bankId)).toBe(37_000);
    // What left the account is what the card holds plus what it paid.
    expect(50_000 - world.ledger.accountBalance(bankId)!).toBe(world.ledger.card(cardId)!.balance + world.ledger.card(cardId)!.pays.total);
    // Head office records that both authorisations reached the card.
    const loads = store.edge.log
      .read(1, store.edge.log.headSeq)
      .filter((e) => e.envelope.eventType === 'PurseLoaded' && e.envelope.streamId === `card-${cardId}`);
    const ids = loads.map((e) => (decodeEvent('PurseLoaded', e.envelope.payload).data as { authorizationId: string }).authorizationId);
    expect(ids).toHaveLength(2);
    await until(() => ids.every((id) => world.centre.authorisation(id)?.status === 'completed'), 'head office to record the completions');
  });

  it('each terminal names itself to the card by store and terminal: the chip logs and MACs it, the events carry it, head office verifies it', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-2', card);
    expect(await store.command({ load: { amount: 2_000, pin: '1234' } }, { terminalId: 'pos-2' })).toMatchObject({
      ok: true,
      code: 'loaded',
    });
    expect(await store.command({ pay: { amount: 500 } }, { terminalId: 'pos-2' })).toMatchObject({
      ok: true,
      code: 'paid',
      balance: 1_500,
    });
    const named = toHex(terminalIdOf('s1/pos-2'));
    expect(card.state.issued!.log.map((entry) => toHex(entry.terminalId))).toEqual([named, named]);
    const moved = store.edge.log
      .read(1, store.edge.log.headSeq)
      .filter(
        (e) =>
          e.envelope.streamId === `card-${cardId}` && ['PurseCreditStarted', 'PurseLoaded', 'PursePaid'].includes(e.envelope.eventType),
      )
      .map((e) => (decodeEvent(e.envelope.eventType as 'PursePaid', e.envelope.payload).data as { terminalId: string }).terminalId);
    expect(moved).toEqual(['s1/pos-2', 's1/pos-2', 's1/pos-2']);
    await store.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({ balance: 1_500, loads: { count: 1 }, pays: { count: 1 }, alerts: 0 });
  });

  it('a pay beyond the balance is declined with the balance shown; nothing changes on the chip', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 2_000, pin: '1234' } });
    const before = chipPurse(card);
    const reply = await store.command({ pay: { amount: 2_001 } });
    expect(reply).toMatchObject({ ok: false, code: 'insufficient_balance', balance: 2_000, cardId });
    expect(reply.message).toContain('¥2,000');
    expect(chipPurse(card)).toEqual(before);
    const declined = store.edge.log.read(1, store.edge.log.headSeq).filter((e) => e.envelope.eventId === reply.eventId);
    expect(declined.map((e) => e.envelope.eventType)).toEqual(['PurseOperationDeclined']);
  });

  it('three wrong PINs block the card for loads; pays still work', async () => {
    const { card, bankId } = await issueCard(world, { opening: 10_000 });
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 1_000, pin: '1234' } });
    expect(await store.command({ load: { amount: 1_000, pin: '9999' } })).toMatchObject({
      ok: false,
      code: 'wrong_pin',
      message: 'wrong PIN: 2 tries left',
    });
    expect(await store.command({ load: { amount: 1_000, pin: '9999' } })).toMatchObject({
      ok: false,
      code: 'wrong_pin',
      message: 'wrong PIN: 1 try left',
    });
    expect(await store.command({ load: { amount: 1_000, pin: '9999' } })).toMatchObject({ ok: false, code: 'pin_blocked' });
    expect(await store.command({ load: { amount: 1_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'pin_blocked' });
    expect(world.centre.accountBalance(bankId)).toBe(9_000);
    expect(chipPurse(card).balance).toBe(1_000);
    expect(await store.command({ pay: { amount: 400 } })).toMatchObject({ ok: true, balance: 600 });
  });

  it('an expired card is refused', async () => {
    const { card } = await issueCard(world, { expiry: '2020-01' });
    store.readers.set('pos-1', card);
    expect(await store.command({ pay: { amount: 1 } })).toMatchObject({ ok: false, code: 'expired' });
    expect(await store.command({ load: { amount: 1, pin: '1234' } })).toMatchObject({ ok: false, code: 'expired' });
    expect((await store.command({ read: {} })).message).toBe('balance ¥0, not usable: this card expired on 2020-01');
  });

  it('a blacklisted card is refused at a store that went offline after the blacklisting, also by its copy opened afresh', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 5_000, pin: '1234' } });
    const { version } = await world.centre.changeBlacklist('blacklist', cardId, 'reported stolen');
    await until(() => store.purse.blacklist.find(cardId) !== undefined, 'the blacklist to reach the store');
    expect(store.purse.blacklist.version).toBe(version);

    store.link.cut();
    await until(() => !store.purse.link.online, 'the store to notice it is offline');
    const reply = await store.command({ pay: { amount: 100 } });
    expect(reply).toMatchObject({ ok: false, code: 'blacklisted' });
    expect(reply.message).toContain('reported stolen');
    expect(chipPurse(card).balance).toBe(5_000);
    // The copy is in edge.db: a node opened afresh on the same file refuses the card too.
    const reopened = new Database(store.edge.db.name, { readonly: true });
    const headOffice = { name: 'head office', publicKey: world.backbone.hq.signingKey.publicKey };
    expect(new BlacklistCache(reopened, 's1', headOffice).find(cardId)).toMatchObject({ reason: 'reported stolen' });
    reopened.close();

    store.link.restore();
    await until(() => store.purse.link.online, 'the store to be back online');
    await world.centre.changeBlacklist('reinstate', cardId, 'found by the owner');
    await until(() => store.purse.blacklist.find(cardId) === undefined, 'the reinstatement to reach the store');
    expect(await store.command({ pay: { amount: 100 } })).toMatchObject({ ok: true, balance: 4_900 });
  });

  it('a store that was offline while a card was blacklisted catches up when it reconnects', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    store.link.cut();
    await until(() => !store.purse.link.online, 'the store to go offline');
    await world.centre.changeBlacklist('blacklist', cardId, 'lost');
    store.link.restore();
    await until(() => store.purse.blacklist.find(cardId) !== undefined, 'the store to catch up on the blacklist');
    expect(await store.command({ pay: { amount: 1 } })).toMatchObject({ ok: false, code: 'blacklisted' });
  });

  it('the same POS command sent three times over NATS debits the card once', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 3_000, pin: '1234' } });
    const nc = (await store.edge.nats)!;
    const terminal = { storeId: 's1', terminalId: 'pos-1' };
    const command = { commandId: 'pay-once', pay: { amount: 1_000 } };
    const replies = await Promise.all([sendPosCommand(nc, terminal, command), sendPosCommand(nc, terminal, command)]);
    replies.push(await sendPosCommand(nc, terminal, command));
    for (const reply of replies) expect(reply).toMatchObject({ ok: true, code: 'paid', balance: 2_000, eventId: replies[0]!.eventId });
    expect(chipPurse(card).balance).toBe(2_000);
    const paid = store.edge.log.read(1, store.edge.log.headSeq).filter((e) => e.envelope.commandId === 'pay-once');
    expect(paid.map((e) => e.envelope.eventType)).toEqual(['PursePaid']);
    await store.replicated();
    await world.catchUpLedger();
    expect(world.ledger.card(cardId)).toMatchObject({ balance: 2_000, pays: { count: 1, total: 1_000 } });
  });

  it('a replayed or forged PursePaid ingested at head office raises alerts and leaves the ledger as it was', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 3_000, pin: '1234' } });
    const paid = await store.command({ pay: { amount: 1_000 } });
    await store.replicated();
    await world.catchUpLedger();
    const before = world.ledger.card(cardId)!;
    expect(before).toMatchObject({ balance: 2_000, counter: 2, alerts: 0 });

    const original = store.edge.log.read(1, store.edge.log.headSeq).find((e) => e.envelope.eventId === paid.eventId)!;
    const event = decodeEvent('PursePaid', original.envelope.payload);
    if (event.type !== 'PursePaid') throw new Error('not a PursePaid');
    // The same movement once more (a replay), and one with a new balance but the old MAC (a forgery).
    await store.edge.log.append([
      { event: { type: 'PursePaid', data: event.data }, streamId: `card-${cardId}` },
      { event: { type: 'PursePaid', data: { ...event.data, amount: 10, newBalance: 1_990, cardCounter: 3 } }, streamId: `card-${cardId}` },
    ]);
    await store.replicated();
    await world.catchUpLedger();
    const kinds = world.ledger.alerts({ cardId }).map((a) => a.kind);
    expect(kinds).toEqual(['counter_repeat', 'mac_invalid']);
    expect(world.ledger.card(cardId)).toMatchObject({ balance: 2_000, counter: 2, pays: before.pays, loads: before.loads, alerts: 2 });
  });
});
