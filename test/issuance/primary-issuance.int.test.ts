// Primary issuance at head office on a virtual card through the real pcscd + vpcd: the chip is
// initialised, the stripe written, CardPrimaryIssued recorded in the hq stream.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIssuerMasterKeys, parseBankId, terminalKeysOf } from '../../card/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { HQ_ORIGIN } from '../../contracts/index.js';
import { ChipTerminal, VirtualStripeReader } from '../../reader/index.js';
import { IssuanceOffice, applicationRoutes } from '../../host/applications/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { primaryIssuanceRoutes, virtualCardStripeWriter } from '../../host/primary-issuance/index.js';
import { openPcscRig, type PcscRig, type SlotCard } from '../../testkit/pcsc-rig.js';
import { headOfficeApi, type HeadOfficeApi } from './support.js';
import { originStreamName, domainEventsOf } from '../../eventstore/index.js';

const master = generateIssuerMasterKeys(1);
let dir: string;
let store: SqliteEventStore;
let api: HeadOfficeApi;
let rig: PcscRig;
let card: SlotCard;
let userId: string;

const hqEvents = async () => domainEventsOf(await store.readStream(originStreamName(HQ_ORIGIN))).map((fed) => fed.event);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cardsys-primary-'));
  rig = await openPcscRig(master.transport);
  card = await rig.newCard();
  store = SqliteEventStore.open(join(dir, 'events.db'));
  const writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
  const office = await IssuanceOffice.open({ store, writer });
  api = await headOfficeApi({
    dir,
    store,
    writer,
    routes: () => [
      applicationRoutes({ office: () => office }),
      primaryIssuanceRoutes({
        office: () => office,
        issuerKeys: master,
        // Head office's station: the test slot's reader and the stripe of whichever virtual card is in it.
        station: {
          readerName: rig.slot.readerName,
          card: async () => card.transport,
          writeStripe: (stripe) => virtualCardStripeWriter(card.stateFile)(stripe),
        },
      }),
    ],
  });
  const applied = await api.app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: api.as('clerk'),
    payload: {
      personal: { name: 'Taro Suzuki', address: '4-5-6 Umeda, Osaka', birthDate: '1975-12-31' },
      bank: { bankCode: '0009', branchCode: '123', accountNumber: '7654321' },
      homeStoreId: 'A',
    },
  });
  userId = applied.json().userId;
});

afterAll(async () => {
  await api?.close();
  await store?.close();
  await rig?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('primary issuance at head office', () => {
  it("initialises the blank card in head office's reader, writes its stripe and records CardPrimaryIssued", async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: `/v1/users/${userId}/cards`,
      payload: { pin: '4321' },
      headers: api.as('clerk'),
    });
    expect(response.statusCode).toBe(201);
    const issued = response.json();
    expect(issued).toMatchObject({
      userId,
      bankId: '00091237654321',
      keyVersion: 1,
      pin: '4321',
      cardId: expect.stringMatching(/^[0-9a-f]{16}$/),
    });

    expect(card.state().lifecycle).toBe('primary-issued');
    const terminal = new ChipTerminal(card.transport, { keys: terminalKeysOf(master), terminalName: 'check' });
    await terminal.select();
    const info = await terminal.readInfo();
    expect(info).toMatchObject({ cardId: issued.cardId, lifecycle: 'primary-issued', expiry: issued.expiry.slice(0, 7) });
    expect(terminal.verifyAuthCode(info)).toBe(true);
    await terminal.authenticate();
    expect(await terminal.readBankId()).toEqual(parseBankId('00091237654321'));

    expect(await new VirtualStripeReader(card.stateFile).read()).toMatchObject({
      bankId: parseBankId('00091237654321'),
      expiry: issued.expiry.slice(0, 7),
    });
    expect((await hqEvents()).filter((event) => event.type === 'CardPrimaryIssued')).toMatchObject([
      { data: { cardId: issued.cardId, userId, expiry: issued.expiry } },
    ]);

    await api.caughtUp();
    const view = await api.app.inject({ method: 'GET', url: `/v1/cards/${issued.cardId}`, headers: api.as('clerk') });
    expect(view.json()).toMatchObject({ cardId: issued.cardId, userId, bankId: '00091237654321', expiry: issued.expiry, issuance: null });
  });

  it('a card that is not blank is not issued again, and nothing is recorded', async () => {
    const response = await api.app.inject({ method: 'POST', url: `/v1/users/${userId}/cards`, payload: {}, headers: api.as('clerk') });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toMatchObject({ error: 'card_not_issued' });
    expect((await hqEvents()).filter((event) => event.type === 'CardPrimaryIssued')).toHaveLength(1);
  });

  it('cardsys host issue-card asks the running head office; exit 0 only when the card was issued', async () => {
    const address = await api.app.listen({ host: '127.0.0.1', port: 0 });
    // Asynchronously: the API answering the command runs in this process.
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string }>((resolve) => {
        const token = api.as('clerk').authorization.replace('Bearer ', '');
        execFile(
          process.execPath,
          ['bin/cardsys.js', 'host', 'issue-card', '--http', address.replace('http://', ''), '--json', '--token', token, ...args],
          (error, stdout) => resolve({ status: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout }),
        );
      });
    card = await rig.newCard();
    const issued = await run(['--user', userId]);
    expect(issued.status).toBe(0);
    expect(JSON.parse(issued.stdout)).toMatchObject({ ok: true, status: 201, userId, pin: expect.stringMatching(/^\d{4}$/) });
    expect(card.state().lifecycle).toBe('primary-issued');
    const refused = await run(['--user', 'nobody']);
    expect(refused.status).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, status: 404, error: 'not_found' });
  });

  it('404 for an unknown user; a body naming a reader or a stripe file is refused, and nothing is written', async () => {
    expect(
      (await api.app.inject({ method: 'POST', url: '/v1/users/nobody/cards', payload: {}, headers: api.as('clerk') })).statusCode,
    ).toBe(404);
    card = await rig.newCard();
    const before = await store.readStream(originStreamName(HQ_ORIGIN));
    for (const [field, value] of [
      ['stripe', join(dir, 'elsewhere.json')],
      ['reader', 'Virtual PCD 00 01'],
    ] as const) {
      const response = await api.app.inject({
        method: 'POST',
        url: `/v1/users/${userId}/cards`,
        payload: { [field]: value },
        headers: api.as('clerk'),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({
        error: 'bad_request',
        field,
        message: expect.stringContaining("head office's configuration"),
      });
    }
    expect(await store.readStream(originStreamName(HQ_ORIGIN))).toHaveLength(before.length);
    expect(existsSync(join(dir, 'elsewhere.json.track2'))).toBe(false);
    expect(card.state().lifecycle).not.toBe('primary-issued');
  });
});
