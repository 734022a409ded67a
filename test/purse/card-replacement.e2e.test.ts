import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../contracts/index.js';
import { REPLACEMENT_ACCOUNT } from '../../domain/index.js';
import { IssuanceOffice } from '../../host/applications/index.js';
import type { Role } from '../../host/api/index.js';
import { issuePrimaryCard, virtualCardStripeWriter } from '../../host/primary-issuance/index.js';
import { InquiryCentre, replacementRoutes } from '../../host/purse/index.js';
import { BooksReader, headOfficeProjections } from '../../projections/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { issueCard, startPurseWorld, until, type PurseWorld, type Store } from '../../testkit/purse-world.js';
import { cardsysAsync as cardsys } from '../support/cli.js';
import { openCounterDesk, type CounterDesk } from '../support/counter-desk.js';
import { userRegistered } from '../support/host-events.js';

// A lost card replaced with its balance, through the real counter: the cards behind pcscd + vpcd,
// the stores' edges on NATS, head office's API over HTTP, `cardsys pos replacement-credit`.
// Store s1 saw the card (its load); store s2 took a pay of it while cut off, so head office could
// not know s2 had seen it: that pay arrives after the transfer and adjusts it.
describe('a lost card replaced with its balance', () => {
  let world: PurseWorld;
  let s1: Store;
  let s2: Store;
  let desk: CounterDesk;

  beforeAll(async () => {
    world = await startPurseWorld(['s1', 's2'], { projections: headOfficeProjections });
    [s1, s2] = [await world.startStore('s1'), await world.startStore('s2')];
    await Promise.all([s1.edge.nats, s2.edge.nats]);
    const office = () => IssuanceOffice.open({ store: world.backbone.store, writer: world.backbone.hq });
    desk = await openCounterDesk(world, s1, {
      name: 'replacement',
      plugins: (rig) => [
        replacementRoutes({
          centre: () => world.centre,
          // Head office's station: a blank card in the reader, its stripe beside its state file.
          issueCard: async (request) => {
            const blank = await rig.newCard();
            replacementCard = blank;
            const issuing = await office();
            return issuePrimaryCard(
              {
                office: () => issuing,
                issuerKeys: world.master,
                station: {
                  readerName: rig.slot.readerName,
                  card: async () => blank.transport,
                  writeStripe: virtualCardStripeWriter(blank.stateFile),
                },
              },
              request,
            );
          },
        }),
      ],
    });
  });
  afterAll(async () => {
    await desk?.close();
    await world?.close();
  });

  let replacementCard: SlotCard | undefined;
  const call = async (role: Role, method: 'GET' | 'POST', url: string, payload?: object) => {
    const response = await desk.request(role, { method, url, ...(payload ? { payload } : {}) });
    return { status: response.statusCode, body: response.json() };
  };

  it('moves ¥7,500 to the new card, adjusts for a late ¥1,200 pay with an alert, and refuses the old card', async () => {
    const lost = await issueCard(world, { opening: 20_000 });
    const bank = lost.bankId;
    // The lost card's user, registered as an application registers one: the replacement is theirs.
    const user = userRegistered(`user-${Number(lost.cardId.slice(6))}`, 's1') as Extract<NewDomainEvent, { type: 'UserRegistered' }>;
    user.data.bank = { bankName: 'Bank', bankCode: bank.slice(0, 4), branchCode: bank.slice(4, 7), accountNumber: bank.slice(7) };
    await world.backbone.hq.append([{ event: user, streamId: `user-${user.data.userId}` }]);
    const old = await desk.rig.newCard(lost.card.state);
    s1.readers.set('pos-1', old.transport);
    s2.readers.set('pos-1', old.transport);
    expect(await s1.command({ load: { amount: 7_500, pin: '1234' } })).toMatchObject({ ok: true, balance: 7_500 });
    await s1.replicated();

    // Store s2 is cut off; the card pays there, and head office does not learn of it.
    s2.link.cut();
    await until(() => !s2.purse.link.online, 'store s2 to go offline');
    expect(await s2.command({ pay: { amount: 1_200 } })).toMatchObject({ ok: true, balance: 6_300 });

    // Reported lost: blacklisted at once. A clerk may report; a viewer may not.
    expect((await call('viewer', 'POST', `/v1/cards/${lost.cardId}/loss`, { reason: 'lost on the train' })).status).toBe(403);
    const report = await call('clerk', 'POST', `/v1/cards/${lost.cardId}/loss`, { reason: 'lost on the train' });
    expect(report).toMatchObject({ status: 201, body: { reportedLost: true, blacklisted: true, reportedBy: 'clerk:clerk-1' } });
    expect((await call('operator', 'POST', `/v1/cards/${lost.cardId}/loss`, { reason: 'again' })).body).toMatchObject({
      error: 'already_reported',
    });
    expect((await call('viewer', 'GET', `/v1/cards/${lost.cardId}/replacement`)).body).toMatchObject({
      status: 'reported',
      newCardId: null,
    });

    // The old card turns up at s1: refused, blacklisted (s1 learns of it within moments), and with
    // head office's consent terminated there, its purse emptied; closed as lost, nothing credited.
    await until(() => s1.purse.blacklist.find(lost.cardId) !== undefined, "store s1's copy of the blacklist to list the card");
    const refused = await s1.command({ pay: { amount: 100 } });
    expect(refused).toMatchObject({ ok: false, code: 'blacklisted', balance: 0 });
    expect(refused.message).toContain('reported lost and is now terminated, its purse of ¥6,300 emptied');
    expect(old.state()).toMatchObject({ lifecycle: 'terminated', issued: { balance: 0 } });
    // The chip takes no command again (6285): the store says so.
    expect(await s1.command({ pay: { amount: 100 } })).toMatchObject({ ok: false, code: 'card_terminated' });
    await s1.replicated();
    await until(async () => {
      await world.catchUpLedger();
      return (await call('viewer', 'GET', `/v1/cards/${lost.cardId}`)).body.closed?.reason === 'lost';
    }, 'head office to close the card as lost');
    expect((await call('viewer', 'GET', `/v1/cards/${lost.cardId}`)).body).toMatchObject({
      closed: { reason: 'lost', storeId: 's1', unloadedAmount: 6_300 },
    });
    expect(world.centre.accountBalance(bank)).toBe(20_000 - 7_500);

    // The replacement: a new card for the same user, from head office's station.
    const issued = await call('clerk', 'POST', `/v1/cards/${lost.cardId}/replacement`, { pin: '4321' });
    expect(issued).toMatchObject({ status: 201, body: { replacedCardId: lost.cardId, bankId: bank, pin: '4321' } });
    const newCardId = issued.body.cardId as string;
    expect((await call('clerk', 'POST', `/v1/cards/${lost.cardId}/replacement`, {})).body).toMatchObject({ error: 'already_replaced' });

    // s1, the only store head office knows saw the card, is past the report: the balance moves.
    await until(
      async () => (await call('viewer', 'GET', `/v1/cards/${newCardId}/replacement`)).body.status === 'transferred',
      'the transfer',
    );
    expect((await call('viewer', 'GET', `/v1/cards/${lost.cardId}/replacement`)).body).toMatchObject({
      newCardId,
      transferred: { amount: 7_500, oldCardCounter: 1, storesWaitedFor: ['s1'] },
      moved: 7_500,
    });
    // The float is what the chips hold: the lost card's ¥7,500 is in the replacement account now
    // (its captured chip's unload took nothing off the float), the new card holds nothing yet.
    const float = async () => {
      await world.catchUpLedger();
      return new BooksReader(world.runner.db).float(Date.now()).byEventTime;
    };
    expect(await float()).toEqual({ total: 0, cards: 0 });

    // At the counter the new card takes it, once the customer enters the PIN.
    s1.readers.set('pos-1', replacementCard!.transport);
    const credit = async (pin: string) => {
      const args = [
        'pos',
        'replacement-credit',
        '--store',
        's1',
        '--pin',
        pin,
        '--pin-key',
        desk.pinKeyFile,
        '--nats',
        world.backbone.nats.url,
        '--json',
      ];
      const result = await cardsys(args);
      return { code: result.code, reply: JSON.parse(result.stdout) };
    };
    expect(await credit('0000')).toMatchObject({ code: 2, reply: { ok: false, code: 'wrong_pin' } });
    expect(await credit('4321')).toMatchObject({ code: 0, reply: { ok: true, code: 'credited', balance: 7_500 } });
    expect(replacementCard!.state().issued).toMatchObject({ balance: 7_500 });
    expect(await credit('4321')).toMatchObject({ code: 2, reply: { ok: false, code: 'nothing_due', balance: 7_500 } });
    await s1.replicated();
    expect(await float()).toEqual({ total: 7_500, cards: 1 });

    // s2 comes back: its pay of the lost card arrives after the transfer and adjusts it, with an alert.
    s2.link.restore();
    await s2.replicated();
    await until(
      async () => (await call('viewer', 'GET', `/v1/cards/${lost.cardId}/replacement`)).body.status === 'adjusted',
      'the adjustment',
    );
    const adjusted = (await call('viewer', 'GET', `/v1/cards/${lost.cardId}/replacement`)).body;
    expect(adjusted).toMatchObject({ adjustments: [{ amount: -1_200, oldCardCounter: 2, storeId: 's2' }], moved: 6_300 });
    await world.catchUpLedger();
    // The old card's unload at s1 skipped s2's pay until it arrived: that gap is resolved.
    const alerts = world.ledger.alerts({ cardId: lost.cardId });
    expect(alerts).toEqual([
      expect.objectContaining({ kind: 'counter_gap', storeId: 's1', resolved: true }),
      expect.objectContaining({ kind: 'replacement_adjusted', severity: 'high', storeId: 'hq' }),
    ]);
    expect(alerts[1]!.message).toContain(`card ${newCardId} was credited ¥1,200 too much`);

    // Nothing lost, nothing twice: the pay counted once on the lost card (emptied when captured), the
    // transfer once on the new card, the customer's account debited only for the load and credited
    // nothing for the capture, the replacement account spent.
    expect(world.ledger.card(lost.cardId)).toMatchObject({ balance: 0, pays: { count: 1, total: 1_200 } });
    expect(world.ledger.card(newCardId)).toMatchObject({ balance: 7_500, loads: { count: 1, total: 7_500 } });
    expect(world.centre.accountBalance(bank)).toBe(20_000 - 7_500);
    expect(world.centre.accountBalance(REPLACEMENT_ACCOUNT)).toBe(0);
    // The late pay and its correction net out on the lost card: the float is still the new card's ¥7,500.
    expect(await float()).toEqual({ total: 7_500, cards: 1 });
    expect(new BooksReader(world.runner.db).floatOfCards(Date.now(), { cardId: lost.cardId })).toEqual([
      { cardId: lost.cardId, byEventTime: 0, byKnowledgeTime: 0 },
    ]);

    // Head office starts again: it reads the history anew and decides nothing twice.
    await world.centre.stop();
    world.centre = await InquiryCentre.start({
      nc: world.backbone.nc,
      store: world.backbone.store,
      writer: world.backbone.hq,
      issuerKeys: world.master,
      logger: world.log.logger,
      sweepEveryMs: 0,
    });
    await world.centre.stop();
    const decided = (await world.backbone.storedEnvelopes('hq'))
      .map((envelope) => envelope.eventType)
      .filter((type) => type === 'CardBalanceTransferred' || type === 'CardReplacementAdjusted');
    expect(decided).toEqual(['CardBalanceTransferred', 'CardReplacementAdjusted']);
    expect(world.centre.replacement(lost.cardId)).toMatchObject({ status: 'adjusted', moved: 6_300 });
  }, 60_000);
});
