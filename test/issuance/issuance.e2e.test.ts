// Card issuance end to end with real parts: nats-server with per-store nkey credentials, SQLite
// host event store and read models, head office's writer and ingest, a store edge with its local
// log and POS handler, and a virtual card through the real pcscd + vpcd.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CardState, generateIssuerMasterKeys, newBlankCard, terminalKeysOf } from '../../card/index.js';
import {
  loadPinKey,
  loadPublicKey,
  loadSealingKey,
  loadSealingPublicKey,
  loadSigningKey,
  openSealed,
  type PosReply,
  pb,
  subjects,
} from '../../contracts/index.js';
import { type EdgeNode, startEdge } from '../../edge/index.js';
import { issuedRecordSealContext, type StoreIssuance } from '../../edge/issuance/index.js';
import { decodePosReply, type PosServer, sendPosCommand } from '../../edge/pos/index.js';
import { domainEventsOf, originStreamName, SqliteEventStore } from '../../eventstore/index.js';
import { HqWriter, storeKeyDirectory } from '../../host/hq-writer/index.js';
import { type Ingest, startIngest } from '../../host/ingest/index.js';
import { headOfficeIssuance } from '../../host/issuance/index.js';
import type { IssuanceOffice } from '../../host/applications/index.js';
import { virtualCardStripeWriter } from '../../host/primary-issuance/index.js';
import { type ProvisionedHeadOffice, type ProvisionedStore, provisionHeadOffice, provisionStore } from '../../host/provisioning/index.js';
import { type LinkProxy, startLinkProxy } from '../../infra/index.js';
import { type NatsServer, natsConnectOptions, startNatsServer } from '../../infra/nats/index.js';
import { ChipTerminal, InProcessCard, VirtualStripeReader } from '../../reader/index.js';
import { openPcscRig, type PcscRig, type SlotCard } from '../../testkit/pcsc-rig.js';
import { type HeadOfficeApi, headOfficeApi } from './support.js';
import { connectHeadOffice } from '../support/head-office-nats.js';

const master = generateIssuerMasterKeys(1);
const quiet = {
  info() {},
  warn() {},
  error: (message: unknown) => console.error(message),
};
const TERMINAL = 'pos-1';

let root: string;
let server: NatsServer;
let headOffice: ProvisionedHeadOffice;
let stores: Record<'A' | 'B', ProvisionedStore>;
let hq: Awaited<ReturnType<typeof connectHeadOffice>>;
let posNc: NatsConnection;
let eventStore: SqliteEventStore;
let ingest: Ingest;
let api: HeadOfficeApi;
let rig: PcscRig;
let card: SlotCard;
let link: LinkProxy;
let edge: EdgeNode;
let pos: PosServer;
let issuance: StoreIssuance;
/** Head office's issuance office, behind the API's checks (for history from before a check existed). */
let office: () => IssuanceOffice;
let commands = 0;

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** What store A's copy of the issuance info lists for a bank ID (head office publishes on its own). */
const inCopy = (bankId: string) => issuance.info.cache.find(bankId)?.cards?.map((card) => card.cardId) ?? [];

/** The store's events are all at head office. */
async function replicated(): Promise<void> {
  await edge.replicator.whenConfirmed(edge.log.headSeq);
}

async function apply(accountNumber: string, homeStoreId: string): Promise<string> {
  const response = await api.app.inject({
    method: 'POST',
    url: '/v1/applications',
    headers: api.as('clerk'),
    payload: {
      personal: {
        name: `Customer ${accountNumber}`,
        address: '7-8-9 Tenjin, Fukuoka',
        birthDate: '1988-08-08',
        occupation: 'teacher',
        affiliation: 'City School',
      },
      bank: {
        bankName: 'Example Bank',
        bankCode: '0005',
        branchCode: '321',
        accountNumber,
      },
      homeStoreId,
    },
  });
  expect(response.statusCode).toBe(201);
  return response.json().userId;
}

/** Head office issues a new blank card in the reader to the user; returns its card id. */
async function primaryIssue(userId: string): Promise<string> {
  card = await rig.newCard();
  const response = await api.app.inject({
    method: 'POST',
    url: `/v1/users/${userId}/cards`,
    payload: { pin: '1234' },
    headers: api.as('clerk'),
  });
  expect(response.statusCode).toBe(201);
  return response.json().cardId;
}

/** The POS terminal's `issue` command over NATS, with the POS credentials of store A. */
const issueAtPos = (): Promise<PosReply> =>
  sendPosCommand(
    posNc,
    { storeId: 'A', terminalId: TERMINAL },
    { commandId: `issue-${++commands}`, issue: {} },
    { timeoutMs: 20_000, attempts: 1 },
  );

const storeEvents = async (storeId: string) =>
  domainEventsOf(await eventStore.readStream(originStreamName(storeId))).map((fed) => fed.event);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'cardsys-issuance-e2e-'));
  const hqDataDir = join(root, 'hq');
  headOffice = provisionHeadOffice({ hqDataDir });
  stores = {
    A: provisionStore({ hqDataDir, storeId: 'A', name: 'Store A' }),
    B: provisionStore({ hqDataDir, storeId: 'B', name: 'Store B' }),
  };
  server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(stores.B.natsAuthConfigFile, 'utf8') });
  hq = await connectHeadOffice(server.url, hqDataDir);

  eventStore = SqliteEventStore.open(join(hqDataDir, 'events.db'));
  const writer = await HqWriter.open({
    store: eventStore,
    signingKey: headOffice.signingKey,
  });
  await writer.append([...headOffice.events, ...stores.A.events, ...stores.B.events].map((event) => ({ event, streamId: 'stores' })));
  ingest = await startIngest({
    nc: hq.nats.ingest,
    responder: hq.nats.responder,
    store: eventStore,
    storeKeys: storeKeyDirectory(eventStore),
    logger: quiet,
  });
  rig = await openPcscRig(master.transport);
  api = await headOfficeApi({
    dir: hqDataDir,
    store: eventStore,
    writer,
    routes: (runner) => {
      const issuance = headOfficeIssuance({
        store: eventStore,
        nats: hq.nats,
        readModels: runner.db,
        sealingKey: headOffice.sealingKey.privateKey,
        signingKey: headOffice.signingKey,
        issuerKeys: master,
        // Head office's station: the test slot and the stripe of whichever virtual card is in it.
        station: {
          readerName: rig.slot.readerName,
          card: async () => card.transport,
          writeStripe: (stripe) => virtualCardStripeWriter(card.stateFile)(stripe),
        },
        logger: quiet,
      });
      return [
        async (app) => {
          const writerSide = await issuance.startWriter(writer);
          office = () => writerSide.office;
          app.addHook('onClose', () => writerSide.stop());
          await app.register(issuance.routes(() => writerSide.office));
        },
      ];
    },
  });

  // Store A: its WAN link to the broker can be cut.
  link = await startLinkProxy({ port: server.port });
  const bundle = stores.A.bundle;
  edge = await startEdge({
    storeId: 'A',
    dataDir: join(root, 'stores', 'A'),
    natsUrl: link.url,
    natsOptions: {
      ...natsConnectOptions(bundle.natsCreds),
      reconnectTimeWait: 100,
    },
    signingKey: loadSigningKey(bundle.signingKey),
    logger: quiet,
    replication: { stallMs: 1000 },
    counter: {
      keys: terminalKeysOf(master),
      pinMasterKey: loadPinKey(bundle.pinMasterKey),
      hqSigningPublicKey: loadPublicKey(bundle.hqSigningPublicKey),
      cardReader: () => card.transport,
      stripeReader: async () => (await new VirtualStripeReader(card.stateFile).read()).bankId,
    },
    issuance: {
      sealingKey: loadSealingKey(bundle.sealingKey).privateKey,
      hqSealingPublicKey: loadSealingPublicKey(bundle.hqSealingPublicKey),
      lookupTimeoutMs: 1500,
    },
  });
  pos = edge.pos!;
  issuance = edge.issuance!;
  await edge.nats;
  posNc = await connect({
    servers: server.url,
    ...natsConnectOptions(bundle.terminal(TERMINAL).natsCreds),
  });
});

afterAll(async () => {
  await edge?.stop();
  await link?.close();
  await posNc?.close();
  await ingest?.stop();
  await api?.close();
  await hq?.close();
  await rig?.close();
  await eventStore?.close();
  await server?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('card issuance end to end', () => {
  let cardId: string;
  let userId: string;

  it('application → primary issuance at head office → snapshot to store A → issued at the POS → recorded at head office', async () => {
    userId = await apply('1000001', 'A');
    cardId = await primaryIssue(userId);
    await until(() => inCopy('00053211000001').includes(cardId), "the new card in store A's copy");
    expect(issuance.info.cache.find('00053211000001')?.cards).toEqual([{ cardId, expiry: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);

    const reply = await issueAtPos();
    expect(reply).toMatchObject({
      ok: true,
      code: 'issued',
      message: 'card issued',
      cardId,
    });

    const terminal = new ChipTerminal(card.transport, {
      keys: terminalKeysOf(master),
      terminalName: 'check',
    });
    await terminal.select();
    expect((await terminal.readInfo()).lifecycle).toBe('secondary-issued');
    await terminal.authenticate();
    expect((await terminal.readPersonalData()).personal).toMatchObject({
      name: 'Customer 1000001',
      occupation: 'teacher',
    });

    await replicated();
    const issued = (await storeEvents('A')).filter((event) => event.type === 'CardIssued');
    expect(issued).toMatchObject([
      {
        data: {
          cardId,
          userId,
          storeId: 'A',
          terminalId: `A/${TERMINAL}`,
          bankId: '00053211000001',
        },
      },
    ]);

    // Head office's user DB shows the card as issued: store, time, expiry.
    await api.caughtUp();
    const view = (
      await api.app.inject({
        method: 'GET',
        url: `/v1/cards/${cardId}`,
        headers: api.as('clerk'),
      })
    ).json();
    expect(view).toMatchObject({
      cardId,
      userId,
      bankId: '00053211000001',
      expiry: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      issuance: { storeId: 'A', terminalId: `A/${TERMINAL}`, recordMatchesUser: true },
    });
    expect(Date.parse(view.issuance.issuedAt)).toBeGreaterThan(Date.parse(view.primaryIssuedAt) - 1);
    const user = (
      await api.app.inject({
        method: 'GET',
        url: `/v1/users/${userId}`,
        headers: api.as('clerk'),
      })
    ).json();
    expect(user.cards).toMatchObject([{ issuance: { storeId: 'A' } }]);

    // Issued: the card leaves store A's copy of the issuance info.
    await until(() => inCopy('00053211000001').length === 0, "the issued card gone from store A's copy");
  });

  it('the same card again: already issued, straight to purse operations, not re-personalised', async () => {
    const before = readFileSync(card.stateFile, 'utf8');
    const reply = await issueAtPos();
    expect(reply).toMatchObject({
      ok: true,
      code: 'already_issued',
      message: 'this card is already issued; go on to purse operations',
      cardId,
      balance: 0,
    });
    expect(readFileSync(card.stateFile, 'utf8')).toBe(before);
    await replicated();
    expect((await storeEvents('A')).filter((event) => event.type === 'CardIssued')).toHaveLength(1);
  });

  it('a user of store B only, card inserted at store A: head office is asked on demand', async () => {
    const userB = await apply('2000002', 'B');
    const cardB = await primaryIssue(userB);
    expect(issuance.info.cache.find('00053212000002')).toBeUndefined();
    const reply = await issueAtPos();
    expect(reply).toMatchObject({
      ok: true,
      code: 'issued',
      cardId: cardB,
      message: 'card issued (issuance data from head office)',
    });
    expect(card.state().lifecycle).toBe('secondary-issued');
  });

  it('head office unreachable and the card not in the copy: "no issuance data for this card", nothing written', async () => {
    const userB = await apply('3000003', 'B');
    await primaryIssue(userB);
    const before = readFileSync(card.stateFile, 'utf8');
    link.cut();
    try {
      // The POS terminal sits in the store: its command reaches the edge in process.
      const bytes = pb.PosCommand.encode({ commandId: `issue-${++commands}`, storeId: 'A', issue: {} }).finish();
      const reply = decodePosReply(await pos.handle(bytes, TERMINAL));
      expect(reply).toMatchObject({
        ok: false,
        code: 'no_issuance_data',
        message: 'no issuance data for this card',
      });
    } finally {
      link.restore();
    }
    expect(readFileSync(card.stateFile, 'utf8')).toBe(before);
    await replicated();
    expect((await storeEvents('A')).at(-1)).toMatchObject({
      type: 'CardIssueRejected',
      data: { reason: 'no_issuance_data', bankId: '00053213000003' },
    });
  });

  it('a forged card (authentication code not made by head office): "this card cannot be used", CardIssueRejected recorded', async () => {
    const forger = generateIssuerMasterKeys(1);
    const chip = new InProcessCard(newBlankCard(forger.transport));
    await new ChipTerminal(chip, {
      keys: forger,
      terminalName: 'forger',
    }).initialise(forger, {
      cardId: 'badc0ffee0ddf00d',
      expiry: '2031-12',
      pin: '0000',
      bankId: { bankCode: '0005', branchCode: '321', accountNumber: '1000001' },
    });
    card = await rig.newCard(chip.state as CardState);
    const reply = await issueAtPos();
    expect(reply).toMatchObject({
      ok: false,
      code: 'card_unusable',
      message: 'this card cannot be used',
    });
    expect(card.state().lifecycle).toBe('primary-issued');
    await replicated();
    expect((await storeEvents('A')).at(-1)).toMatchObject({
      type: 'CardIssueRejected',
      data: { cardId: 'badc0ffee0ddf00d', reason: 'invalid_auth_code' },
    });
  });

  it("store A's credentials cannot publish on store B's event subject", async () => {
    const edgeA = await connect({
      servers: server.url,
      ...natsConnectOptions(stores.A.bundle.natsCreds),
    });
    try {
      await expect(jetstream(edgeA).publish(subjects.events('B'), new Uint8Array([1]))).rejects.toThrow(
        'Permissions Violation for Publish to "cardsys.events.B"',
      );
    } finally {
      await edgeA.close();
    }
  });

  it('head office keeps the issued card: store, expiry and the sealed record of what was written', async () => {
    await until(
      async () => (await storeEvents('A')).some((event) => event.type === 'CardIssued' && event.data.cardId === cardId),
      'CardIssued at head office',
    );
    const event = (await storeEvents('A')).find((e) => e.type === 'CardIssued' && e.data.cardId === cardId);
    if (event?.type !== 'CardIssued') throw new Error('unreachable');
    const record = pb.IssuanceEntry.decode(openSealed(headOffice.sealingKey.privateKey, issuedRecordSealContext, event.data.writtenSealed));
    expect(record).toMatchObject({
      userId,
      bankId: '00053211000001',
      personal: { name: 'Customer 1000001' },
    });
  });
});

describe('inputs the card can hold', () => {
  const kanjiName = '山'.repeat(100);
  const personal = { name: kanjiName, address: '1-1 Marunouchi, Tokyo', birthDate: '1975-05-05', occupation: '', affiliation: '' };
  const bank = { bankName: 'Example Bank', bankCode: '0005', branchCode: '321' };

  it('a 100-kanji name is refused at application: 400 naming personal.name, nobody registered', async () => {
    const before = (await eventStore.readStream(originStreamName('hq'))).length;
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/applications',
      headers: api.as('clerk'),
      payload: { personal, bank: { ...bank, accountNumber: '4000004' }, homeStoreId: 'A' },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: 'bad_request',
      field: 'personal.name',
      message: 'personal.name: name is 300 bytes in UTF-8; the card holds at most 255 bytes a field',
    });
    const hqRecords = await eventStore.readStream(originStreamName('hq'));
    expect(hqRecords.slice(before).map((record) => record.type)).not.toContain('UserRegistered');
  });

  it('data registered before the check reach a store: CardIssueRejected naming the field, the card untouched', async () => {
    const ids = { userId: 'user-before-limits', applicationId: 'application-before-limits' };
    await office().submitApplication({ personal, bank: { ...bank, accountNumber: '5000005' }, homeStoreId: 'A' }, ids);
    const longCard = await primaryIssue(ids.userId);
    await until(() => inCopy('00053215000005').includes(longCard), "the card in store A's copy");
    const before = readFileSync(card.stateFile, 'utf8');
    const reply = await issueAtPos();
    const message = "this card cannot hold the customer's data: name is 300 bytes in UTF-8; the card holds at most 255 bytes a field";
    expect(reply).toMatchObject({ ok: false, code: 'personal_data_too_long', message, cardId: longCard });
    expect(readFileSync(card.stateFile, 'utf8')).toBe(before);
    await replicated();
    expect((await storeEvents('A')).at(-1)).toMatchObject({
      type: 'CardIssueRejected',
      data: { cardId: longCard, reason: 'personal_data_too_long', message, bankId: '00053215000005' },
    });
  });
});
