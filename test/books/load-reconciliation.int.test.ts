import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEvent } from '../../contracts/index.js';
import type { PurseAlertView } from '../../contracts/index.js';
import type { LoadView } from '../../projections/index.js';
import { startBooksWorld, type BooksWorld } from '../../testkit/books-world.js';
import { issueCard, until, type Store } from '../../testkit/purse-world.js';
import { chipCommands } from '../../card/index.js';

const VALID_FOR_MS = 3_000;
const GRACE_MS = 1_000;
const CHECK_EVERY_MS = 200;
/** What the claim is: an operator sees a stuck load within a minute, not the next day. */
const WITHIN_MS = 60_000;

describe('continuous load reconciliation', () => {
  let world: BooksWorld;
  let store: Store;
  const alerts = async (query = '') => (await world.get<{ alerts: PurseAlertView[] }>('operator', `/v1/alerts${query}`)).alerts;
  const loads = async (query = '') => (await world.get<{ loads: LoadView[] }>('operator', `/v1/loads${query}`)).loads;

  beforeAll(async () => {
    world = await startBooksWorld(['s1'], {
      validForMs: VALID_FOR_MS,
      marginMs: 500,
      books: {
        loadDeadlines: { debitGraceMs: GRACE_MS, creditGraceMs: GRACE_MS, confirmGraceMs: GRACE_MS },
        checkLoadsEveryMs: CHECK_EVERY_MS,
        closeDaysEveryMs: 0,
      },
    });
    store = await world.startStore('s1');
    await store.edge.nats;
  });
  afterAll(async () => {
    await world?.close();
  });

  it('a load stuck after the account debit (card pulled, store offline) raises a critical alert within a minute, first in the list; settling it resolves it', async () => {
    // A load that goes through, and a forged pay (a high-severity alert raised earlier).
    const good = await issueCard(world, { opening: 20_000 });
    store.readers.set('pos-1', good.card);
    expect(await store.command({ load: { amount: 2_000, pin: '1234' } })).toMatchObject({ ok: true });
    await store.edge.log.append([
      {
        event: {
          type: 'PursePaid',
          data: {
            cardId: good.cardId,
            amount: 5,
            newBalance: 1_995,
            cardCounter: 2,
            cardMac: new Uint8Array(8),
            storeId: 's1',
            terminalId: 'pos-1',
          },
        },
        streamId: `card-${good.cardId}`,
      },
    ]);
    await store.replicated();
    await world.catchUpLedger();
    await until(async () => (await loads('?state=confirmed')).some((load) => load.cardId === good.cardId), 'the good load to be confirmed');

    // The customer pulls the card before the credit reaches it, and the store's link goes down.
    const stuck = await issueCard(world, { opening: 20_000 });
    store.readers.set('pos-1', stuck.card);
    stuck.card.pullDuring(chipCommands.INS.CREDIT);
    expect(await store.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'card_removed' });
    store.link.cut();
    const [authorizationId] = store.edge.log
      .read(1, store.edge.log.headSeq)
      .filter((entry) => entry.envelope.eventType === 'PurseCreditStarted' && entry.envelope.streamId === `card-${stuck.cardId}`)
      .map((entry) => (decodeEvent('PurseCreditStarted', entry.envelope.payload).data as { authorizationId: string }).authorizationId);
    expect(world.centre.accountBalance(stuck.bankId)).toBe(15_000);

    const [debitedLoad] = (await loads()).filter((load) => load.authorizationId === authorizationId);
    expect(debitedLoad).toMatchObject({ cardId: stuck.cardId, bankId: stuck.bankId, amount: 5_000, storeId: 's1', overdue: false });
    expect(['debited', 'credit_started']).toContain(debitedLoad!.state);
    const deadline = Date.parse(debitedLoad!.deadline!);

    await until(
      async () => (await alerts()).some((alert) => alert.authorizationId === authorizationId),
      'the stuck load to raise its alert',
      WITHIN_MS + VALID_FOR_MS,
    );
    const seenAfterDeadlineMs = Date.now() - deadline;
    expect(seenAfterDeadlineMs).toBeLessThan(WITHIN_MS);
    const [first, ...rest] = await alerts('?order=severity');
    expect(first).toMatchObject({
      authorizationId,
      cardId: stuck.cardId,
      kind: 'debited_not_credited',
      severity: 'critical',
      storeId: 'hq',
      resolved: false,
    });
    expect(first!.message).toContain('the account debited');
    // Raised once the deadline and its grace had passed, not before.
    expect(Date.parse(first!.raisedAt)).toBeGreaterThanOrEqual(deadline + GRACE_MS);
    expect(rest).toEqual(expect.arrayContaining([expect.objectContaining({ cardId: good.cardId, kind: 'mac_invalid', severity: 'high' })]));
    expect((await alerts('?severity=critical')).map((alert) => alert.authorizationId)).toEqual([authorizationId]);
    const overdue = await loads('?overdue=true');
    expect(overdue.map((load) => load.authorizationId)).toEqual([authorizationId]);
    expect(await loads(`?state=${overdue[0]!.state}`)).toEqual(
      expect.arrayContaining([expect.objectContaining({ authorizationId, overdue: true })]),
    );

    // The store comes back and the card is inserted again, past the deadline: the money goes back to the account.
    store.link.restore();
    await until(() => store.purse.link.online, 'the store to be online again');
    await store.replicated();
    stuck.card.insert();
    expect(await store.command({ read: {} })).toMatchObject({ ok: true, balance: 0 });
    expect(world.centre.authorisation(authorizationId!)).toMatchObject({ status: 'reversed', reversalReason: 'expired_at_card' });
    await until(
      async () => (await loads('?state=reversed')).some((load) => load.authorizationId === authorizationId),
      'the load to show reversed',
    );
    await until(
      async () => (await alerts()).filter((alert) => alert.authorizationId === authorizationId).every((alert) => alert.resolved),
      'its alerts to be resolved',
    );
    expect(await loads('?overdue=true')).toEqual([]);
    // The load that went through never raised one.
    expect((await alerts()).filter((alert) => alert.cardId === good.cardId).map((alert) => alert.kind)).toEqual(['mac_invalid']);

    const live = [await alerts(), await loads()];
    await world.runner.rebuild();
    expect([await alerts(), await loads()]).toEqual(live);
  });

  it('refuses an unknown state', async () => {
    const bad = await world.api.inject({ method: 'GET', url: '/v1/loads?state=lost', headers: world.as('operator') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'bad_request', field: 'state' });
  });
});
