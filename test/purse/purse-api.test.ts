import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { purseRoutes } from '../../host/purse/index.js';
import { issueCard, startOneStoreWorld, until, type PurseWorld, type Store } from '../../testkit/purse-world.js';

describe('blacklist and alert routes', () => {
  let world: PurseWorld;
  let store: Store;
  let api: FastifyInstance;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
    api = Fastify();
    await api.register(purseRoutes({ centre: () => world.centre, ledger: world.ledger }));
  });
  afterAll(async () => {
    await api?.close();
    await world?.close();
  });

  it('blacklists and reinstates with a reason; refuses twice, bad ids and missing reasons', async () => {
    const { cardId } = await issueCard(world);
    const post = (body: unknown, id = cardId) => api.inject({ method: 'POST', url: `/v1/cards/${id}/blacklist`, payload: body as object });
    const listed = await post({ reason: 'stolen' });
    expect(listed.statusCode).toBe(201);
    expect(listed.json()).toMatchObject({ cardId, blacklisted: true, reason: 'stolen' });
    await until(() => store.purse.blacklist.find(cardId) !== undefined, 'the store to hear of it');

    expect((await post({ reason: 'again' })).statusCode).toBe(409);
    const badId = await post({ reason: 'x' }, 'not-a-card');
    expect(badId.statusCode).toBe(400);
    expect(badId.json()).toMatchObject({ error: 'bad_request', field: 'cardId' });
    const noReason = await post({});
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json()).toMatchObject({ field: 'reason', message: 'reason: reason is required' });

    const purse = await api.inject({ method: 'GET', url: `/v1/cards/${cardId}/purse` });
    expect(purse.json()).toMatchObject({ cardId, blacklisted: { reason: 'stolen' } });

    const reinstated = await api.inject({ method: 'DELETE', url: `/v1/cards/${cardId}/blacklist`, payload: { reason: 'found' } });
    expect(reinstated.statusCode).toBe(200);
    expect((await api.inject({ method: 'DELETE', url: `/v1/cards/${cardId}/blacklist`, payload: { reason: 'found' } })).statusCode).toBe(
      409,
    );
    await until(() => store.purse.blacklist.find(cardId) === undefined, 'the store to hear of the reinstatement');
  });

  it("opens a customer's bank account from the bank's feed; refuses it twice and bad account data", async () => {
    const open = (body: object) => api.inject({ method: 'POST', url: '/v1/bank-accounts', payload: body });
    const account = { bankCode: '0007', branchCode: '321', accountNumber: '7654321', balance: 30_000 };
    const opened = await open(account);
    expect(opened.statusCode).toBe(201);
    expect(opened.json()).toEqual({ bankId: '00073217654321', balance: 30_000 });
    expect(world.centre.accountBalance('00073217654321')).toBe(30_000);
    expect((await open(account)).json()).toMatchObject({ error: 'account_exists' });
    expect((await open(account)).statusCode).toBe(409);
    const badBranch = await open({ ...account, branchCode: '12' });
    expect(badBranch.statusCode).toBe(400);
    expect(badBranch.json()).toMatchObject({ field: 'branchCode' });
    expect((await open({ ...account, accountNumber: '7654322', balance: -1 })).json()).toMatchObject({ field: 'balance' });
  });

  it('lists alerts, by card too, and shows the purse as head office last saw it', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 1_000, pin: '1234' } });
    await store.edge.log.append([
      {
        event: {
          type: 'PursePaid',
          data: { cardId, amount: 5, newBalance: 995, cardCounter: 2, cardMac: new Uint8Array(8), storeId: 's1', terminalId: 'pos-1' },
        },
        streamId: `card-${cardId}`,
      },
    ]);
    await store.replicated();
    await world.catchUpLedger();

    const alerts = await api.inject({ method: 'GET', url: `/v1/alerts?cardId=${cardId}` });
    expect(alerts.statusCode).toBe(200);
    expect(alerts.json().alerts).toMatchObject([{ cardId, kind: 'mac_invalid', storeId: 's1' }]);
    expect((await api.inject({ method: 'GET', url: '/v1/alerts?limit=0' })).json()).toMatchObject({ field: 'limit' });

    const purse = await api.inject({ method: 'GET', url: `/v1/cards/${cardId}/purse` });
    expect(purse.json()).toMatchObject({
      cardId,
      purse: { balance: 1_000, counter: 1, alerts: 1 },
      blacklisted: null,
      alerts: [{ kind: 'mac_invalid' }],
    });
    expect(purse.json().purse.lastUse).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect((await api.inject({ method: 'GET', url: '/v1/cards/00000000000000ff/purse' })).statusCode).toBe(404);
  });
});
