// POST /v1/applications against a real SQLite event store through head office's writer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../../contracts/index.js';
import { decodeEnvelope, decodeEvent, HQ_ORIGIN } from '../../contracts/index.js';
import { IssuanceOffice, applicationRoutes } from '../../host/applications/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { headOfficeApi, type HeadOfficeApi } from './support.js';
import { originStreamName } from '../../eventstore/index.js';

let dir: string;
let store: SqliteEventStore;
let api: HeadOfficeApi;

const application = {
  personal: {
    name: 'Hanako Yamada',
    address: '1-2-3 Shibuya, Tokyo',
    birthDate: '1990-04-01',
    occupation: 'engineer',
    affiliation: 'ACME',
  },
  bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: '5678901' },
  homeStoreId: 'A',
};

const post = (body: unknown) =>
  api.app.inject({ method: 'POST', url: '/v1/applications', payload: body as object, headers: api.as('clerk') });
let writer: HqWriter;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cardsys-applications-'));
  store = SqliteEventStore.open(join(dir, 'events.db'));
  writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
  const office = await IssuanceOffice.open({ store, writer });
  api = await headOfficeApi({ dir, store, writer, routes: () => [applicationRoutes({ office: () => office })] });
});

afterAll(async () => {
  await api?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('POST /v1/applications', () => {
  it('registers the applicant: 201 with the user id, UserRegistered in the hq stream', async () => {
    const response = await post(application);
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({ bankId: '00012345678901', userId: expect.any(String), applicationId: expect.any(String) });
    const records = await store.readStream(originStreamName(HQ_ORIGIN));
    const envelope = decodeEnvelope(records.find((record) => record.type === 'UserRegistered')!.data);
    expect(envelope.eventId).toBe(body.eventId);
    expect(decodeEvent(envelope.eventType, envelope.payload)).toMatchObject({
      type: 'UserRegistered',
      data: { userId: body.userId, homeStoreId: 'A', personal: { name: 'Hanako Yamada' } },
    });
  });

  it('409 for a second application on the same bank account, also after a restart of head office', async () => {
    expect((await post(application)).statusCode).toBe(409);
    const restarted = await IssuanceOffice.open({ store, writer });
    const again = await headOfficeApi({
      dir: join(dir, 'restarted'),
      store,
      writer,
      routes: () => [applicationRoutes({ office: () => restarted })],
    });
    const response = await again.app.inject({ method: 'POST', url: '/v1/applications', payload: application, headers: again.as('clerk') });
    await again.close();
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      error: 'duplicate_application',
      message: 'bank account 00012345678901 already has a registered user; one application per account',
    });
  });

  it('two applications for one account at the same moment: exactly one passes', async () => {
    const twin = { ...application, bank: { ...application.bank, accountNumber: '7777777' } };
    const codes = (await Promise.all([post(twin), post(twin), post(twin)])).map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, 409, 409]);
  });

  it.each([
    [{ bank: { ...application.bank, bankCode: '01' } }, 'bank.bankCode', 'bank code must be exactly 4 digits'],
    [{ bank: { ...application.bank, branchCode: '1234' } }, 'bank.branchCode', 'branch code must be exactly 3 digits'],
    [{ bank: { ...application.bank, accountNumber: 'abcdefg' } }, 'bank.accountNumber', 'account number must be exactly 7 digits'],
    [{ personal: { ...application.personal, name: '' } }, 'personal.name', 'name is required'],
    [{ personal: { ...application.personal, birthDate: '1990-13-01' } }, 'personal.birthDate', 'birth date is not a calendar date'],
    [{ homeStoreId: undefined }, 'homeStoreId', 'home store is required'],
    [{ bank: undefined }, 'bank', 'bank data is required'],
  ])('400 naming the field: %j', async (change, field, message) => {
    const response = await post({ ...application, ...change });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: 'bad_request', field });
    expect(response.json().message).toContain(message);
  });

  it('400 for a body that is not an object', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/applications',
      payload: '"hello"',
      headers: { 'content-type': 'application/json', ...api.as('clerk') },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toBe('bad_request');
  });

  it('the registered user is in the user DB: GET /v1/users/:userId', async () => {
    const created = await post({ ...application, bank: { ...application.bank, accountNumber: '1234567' } });
    await api.caughtUp();
    const response = await api.app.inject({ method: 'GET', url: `/v1/users/${created.json().userId}`, headers: api.as('clerk') });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      personal: { name: 'Hanako Yamada' },
      bank: { accountNumber: '1234567' },
      homeStoreId: 'A',
      cards: [],
    });
  });

  it('the application route is in the OpenAPI document', async () => {
    const docs = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(docs.paths['/v1/applications'].post.requestBody).toBeDefined();
  });
});
