import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, headOfficeAccess, type Role, tokenFor } from '../../host/api/index.js';
import { purseRoutes } from '../../host/purse/index.js';
import { ProjectionRunner, projections } from '../../projections/index.js';
import { issueCard, type PurseWorld, type Store, startOneStoreWorld, until } from '../../testkit/purse-world.js';

describe('blacklist, bank account and alert routes', () => {
  let world: PurseWorld;
  let store: Store;
  let runner: ProjectionRunner;
  let api: FastifyInstance;
  let hqDir: string;
  const as = async (role: Role) => ({
    authorization: `Bearer ${await tokenFor(hqDir, role)}`,
  });

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
    hqDir = join(world.backbone.dir, 'hq-api');
    runner = ProjectionRunner.open({
      file: join(hqDir, 'readmodels.db'),
      store: world.backbone.store,
      projections,
    });
    runner.start();
    api = await buildApi({
      store: world.backbone.store,
      runner,
      plugins: [purseRoutes({ centre: () => world.centre, ledger: world.ledger })],
      access: headOfficeAccess(hqDir, world.backbone.hq),
    });
  });
  afterAll(async () => {
    await api?.close();
    await runner?.close();
    await world?.close();
  });

  it('blacklists and reinstates with a reason; refuses twice, bad ids and missing reasons', async () => {
    const { cardId } = await issueCard(world);
    const operator = await as('operator');
    const post = (body: unknown, id = cardId) =>
      api.inject({
        method: 'POST',
        url: `/v1/cards/${id}/blacklist`,
        payload: body as object,
        headers: operator,
      });
    const listed = await post({ reason: 'stolen' });
    expect(listed.statusCode).toBe(201);
    expect(listed.json()).toMatchObject({
      cardId,
      blacklisted: true,
      reason: 'stolen',
    });
    await until(() => store.purse.blacklist.find(cardId) !== undefined, 'the store to hear of it');

    expect((await post({ reason: 'again' })).statusCode).toBe(409);
    const badId = await post({ reason: 'x' }, 'not-a-card');
    expect(badId.statusCode).toBe(400);
    expect(badId.json()).toMatchObject({
      error: 'bad_request',
      field: 'cardId',
    });
    const noReason = await post({});
    expect(noReason.statusCode).toBe(400);
    expect(noReason.json()).toMatchObject({
      field: 'reason',
      message: 'reason: reason is required',
    });

    const purse = await api.inject({
      method: 'GET',
      url: `/v1/cards/${cardId}/purse`,
      headers: operator,
    });
    expect(purse.json()).toMatchObject({
      cardId,
      blacklisted: true,
      blacklistReason: 'stolen',
      blacklistedSince: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
    });

    const reinstated = await api.inject({
      method: 'DELETE',
      url: `/v1/cards/${cardId}/blacklist`,
      payload: { reason: 'found' },
      headers: operator,
    });
    expect(reinstated.statusCode).toBe(200);
    expect(
      (
        await api.inject({
          method: 'DELETE',
          url: `/v1/cards/${cardId}/blacklist`,
          payload: { reason: 'found' },
          headers: operator,
        })
      ).statusCode,
    ).toBe(409);
    await until(() => store.purse.blacklist.find(cardId) === undefined, 'the store to hear of the reinstatement');
  });

  it("opens a customer's bank account from the bank's feed and shows its balance; refuses it twice and bad account data", async () => {
    const feed = await as('bank-feed');
    const open = (body: object) =>
      api.inject({
        method: 'POST',
        url: '/v1/bank-accounts',
        payload: body,
        headers: feed,
      });
    const account = {
      bankCode: '0007',
      branchCode: '321',
      accountNumber: '7654321',
      balance: 30_000,
    };
    const opened = await open(account);
    expect(opened.statusCode).toBe(201);
    expect(opened.json()).toEqual({
      bankId: '00073217654321',
      balance: 30_000,
    });
    expect(world.centre.accountBalance('00073217654321')).toBe(30_000);
    const shown = await api.inject({
      method: 'GET',
      url: '/v1/bank-accounts/00073217654321',
      headers: feed,
    });
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toEqual({ bankId: '00073217654321', balance: 30_000 });
    expect(
      (
        await api.inject({
          method: 'GET',
          url: '/v1/bank-accounts/00073217654322',
          headers: feed,
        })
      ).statusCode,
    ).toBe(404);
    expect(
      (
        await api.inject({
          method: 'GET',
          url: '/v1/bank-accounts/0007',
          headers: feed,
        })
      ).json(),
    ).toMatchObject({
      error: 'bad_request',
      field: 'bankId',
    });
    expect((await open(account)).json()).toMatchObject({
      error: 'account_exists',
    });
    expect((await open(account)).statusCode).toBe(409);
    const badBranch = await open({ ...account, branchCode: '12' });
    expect(badBranch.statusCode).toBe(400);
    expect(badBranch.json()).toMatchObject({ field: 'branchCode' });
    expect((await open({ ...account, accountNumber: '7654322', balance: -1 })).json()).toMatchObject({ field: 'balance' });
    expect((await open({ ...account, accountNumber: '7654323', owner: 'x' })).json()).toMatchObject({
      error: 'bad_request',
      field: 'owner',
    });
  });

  it('lists alerts, by card too, and shows the purse as head office last saw it', async () => {
    const { card, cardId } = await issueCard(world);
    store.readers.set('pos-1', card);
    await store.command({ load: { amount: 1_000, pin: '1234' } });
    await store.edge.log.append([
      {
        event: {
          type: 'PursePaid',
          data: {
            cardId,
            amount: 5,
            newBalance: 995,
            cardCounter: 2,
            cardMac: new Uint8Array(8),
            storeId: 's1',
            terminalId: 'pos-1',
          },
        },
        streamId: `card-${cardId}`,
      },
    ]);
    await store.replicated();
    await world.catchUpLedger();

    const operator = await as('operator');
    const alerts = await api.inject({
      method: 'GET',
      url: `/v1/alerts?cardId=${cardId}`,
      headers: operator,
    });
    expect(alerts.statusCode).toBe(200);
    expect(alerts.json().alerts).toMatchObject([{ cardId, kind: 'mac_invalid', storeId: 's1' }]);
    expect(
      (
        await api.inject({
          method: 'GET',
          url: '/v1/alerts?limit=0',
          headers: operator,
        })
      ).json(),
    ).toMatchObject({ field: 'limit' });

    const purse = await api.inject({
      method: 'GET',
      url: `/v1/cards/${cardId}/purse`,
      headers: operator,
    });
    expect(purse.json()).toMatchObject({
      cardId,
      purse: { balance: 1_000, counter: 1, alerts: 1 },
      blacklisted: false,
      blacklistReason: null,
      alerts: [{ kind: 'mac_invalid' }],
    });
    expect(purse.json().purse.lastUse).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(
      (
        await api.inject({
          method: 'GET',
          url: '/v1/cards/00000000000000ff/purse',
          headers: operator,
        })
      ).statusCode,
    ).toBe(404);
  });
});
