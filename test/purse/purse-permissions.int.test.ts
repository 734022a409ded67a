// The purse's subjects under the per-store NATS permissions: a store asks head office's inquiry
// centre and follows the blacklist, and can neither write the blacklist nor speak for another store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIssuerMasterKeys } from '../../card/index.js';
import { encodeEnvelope, encodeEvent, generateSigningKey, type NewDomainEvent } from '../../contracts/index.js';
import { pb, subjects } from '../../contracts/index.js';
import { BlacklistCache, HeadOfficeLink } from '../../edge/purse/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { InquiryCentre } from '../../host/purse/index.js';
import { provisionStore } from '../../host/provisioning/index.js';
import { headOfficeFiles } from '../../host/provisioning/index.js';
import { natsConnectOptions, startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { until } from '../../testkit/purse-world.js';
import { cardPrimaryIssued, userRegistered } from '../support/host-events.js';

const quiet = { info() {}, warn() {}, error() {} };

describe('purse subjects under store permissions', () => {
  let root: string;
  let server: NatsServer;
  let store: SqliteEventStore;
  let centre: InquiryCentre;
  const open: NatsConnection[] = [];
  let credsA: string;
  let credsB: string;
  let writer: HqWriter;

  const connectWith = async (credsFile: string) => {
    const nc = await connect({ servers: server.url, ...natsConnectOptions(credsFile) });
    open.push(nc);
    return nc;
  };
  /** Asks head office's inquiry centre on the store's own subject, over the store's own connection. */
  const inquirer = (nc: NatsConnection, storeId: string) => async (request: Parameters<typeof pb.InquiryRequest.encode>[0]) =>
    pb.InquiryReply.decode(
      (await nc.request(subjects.inquiry(storeId), pb.InquiryRequest.encode(request).finish(), { timeout: 2_000 })).data,
    );

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cardsys-purse-perm-'));
    const hqDataDir = join(root, 'hq');
    credsA = provisionStore({ hqDataDir, storeId: 'A', name: 'Store A', bundleDir: join(root, 'stores', 'A') }).bundle.natsCreds;
    const b = provisionStore({ hqDataDir, storeId: 'B', name: 'Store B', bundleDir: join(root, 'stores', 'B') });
    credsB = b.bundle.natsCreds;
    server = await startNatsServer({ dataDir: join(root, 'nats'), extraConfig: readFileSync(b.natsAuthConfigFile, 'utf8') });
    const hq = headOfficeFiles(hqDataDir).natsCreds;
    store = SqliteEventStore.open(join(root, 'events.db'));
    writer = await HqWriter.open({ store, signingKey: generateSigningKey() });
    centre = await InquiryCentre.start({
      nc: await connectWith(hq.responder),
      publisher: await connectWith(hq.writer),
      store,
      writer,
      issuerKeys: generateIssuerMasterKeys(1),
      logger: quiet,
      sweepEveryMs: 0,
    });
  });
  afterAll(async () => {
    await centre?.stop();
    await Promise.all(open.map((nc) => nc.close()));
    await store?.close();
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("a store asks the inquiry centre on its own subject and follows head office's blacklist", async () => {
    const edgeA = await connectWith(credsA);
    const link = new HeadOfficeLink('A');
    link.attach(edgeA);
    expect(await link.inquire('pos-1', { pending: { cardId: '00000000000000a1', cardCounter: 0 } })).toMatchObject({
      ok: true,
      code: 'none',
    });

    const db = new Database(join(root, 'edge-a.db'));
    const blacklist = new BlacklistCache(db, 'A', { name: 'head office', publicKey: writer.signingKey.publicKey }, quiet);
    blacklist.follow(edgeA);
    await centre.changeBlacklist('blacklist', '00000000000000a1', 'stolen');
    await until(() => blacklist.find('00000000000000a1') !== undefined, 'the change to reach store A');
    blacklist.stop();
    db.close();
  });

  it('head office answers malformed or invalid requests with bad_request naming the problem', async () => {
    const edgeA = await connectWith(credsA);
    const ask = async (bytes: Uint8Array) =>
      pb.InquiryReply.decode((await edgeA.request(subjects.inquiry('A'), bytes, { timeout: 2_000 })).data);
    expect(await ask(Uint8Array.of(0xff, 0xff, 0xff))).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: expect.stringMatching(/malformed InquiryRequest/),
    });
    const badCard = pb.InquiryRequest.encode({
      storeId: 'A',
      terminalId: 't',
      authorise: { authorizationId: '00000000000000a1', cardId: 'nope', bankId: '00012340000001', amount: 100, cardCounter: 0 },
    }).finish();
    expect(await ask(badCard)).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: 'cardId: card_id must be 16 lowercase hex digits',
    });
    const otherStore = pb.InquiryRequest.encode({ storeId: 'B', terminalId: 't', pending: { cardId: '00000000000000a1' } }).finish();
    expect(await ask(otherStore)).toMatchObject({ ok: false, code: 'bad_request' });
    // A card head office never issued is refused before any account is looked at (fails closed).
    const unknownCard = pb.InquiryRequest.encode({
      storeId: 'A',
      terminalId: 't',
      authorise: { authorizationId: '00000000000000a1', cardId: '00000000000000a1', bankId: '00012340000001', amount: 100, cardCounter: 0 },
    }).finish();
    expect(await ask(unknownCard)).toMatchObject({ ok: false, code: 'unknown_card' });
  });

  it("a store's refund, refund release, PIN unblock and card return (a lost card's too) name itself, or are refused", async () => {
    const ask = inquirer(await connectWith(credsA), 'A');
    const card = '00000000000000a1';
    const asB = [
      { refund: { refundId: '00000000000000c1', payEventId: 'pay-1', cardId: card, amount: 100, cardCounter: 1 } },
      { refundRelease: { refundId: '00000000000000c1' } },
      { pinUnblock: { authorizationId: '00000000000000c2', cardId: card, pinResets: 0, name: 'A', birthDate: '1990-01-01' } },
      { unload: { authorizationId: '00000000000000c3', cardId: card, bankId: '00012340000001', cardCounter: 1 } },
      { unload: { authorizationId: '00000000000000c4', cardId: card, bankId: '00012340000001', cardCounter: 1, lostCard: true } },
    ];
    for (const kind of asB)
      expect(await ask({ storeId: 'B', terminalId: 't', ...kind })).toMatchObject({
        ok: false,
        code: 'bad_request',
        message: expect.stringMatching(/request names store "B" on store A's subject/),
      });
    // As itself, a store cannot refund another store's pay (here one replicated from store B), give
    // back a refund it never held, nor capture a card head office never issued.
    const payOfB = 'b-pay-1';
    const paid = { cardId: card, amount: 100, newBalance: 0, cardCounter: 1, cardMac: new Uint8Array(8), storeId: 'B', terminalId: 't' };
    await store.appendToStream(`store-B`, [
      {
        id: payOfB,
        type: 'PursePaid',
        data: encodeEnvelope({
          eventId: payOfB,
          storeId: 'B',
          storeSeq: 1,
          occurredAtMs: Date.now(),
          eventType: 'PursePaid',
          streamId: `card-${card}`,
          payload: encodeEvent({ type: 'PursePaid', data: paid }),
        }),
      },
    ]);
    expect(await ask({ storeId: 'A', terminalId: 't', refund: { ...asB[0]!.refund!, payEventId: payOfB } })).toMatchObject({
      ok: false,
      code: 'pay_other_store',
    });
    // Store B refunds its own pay; store A cannot give B's refund back, store B can.
    const askB = inquirer(await connectWith(credsB), 'B');
    const refundOfB = { ...asB[0]!.refund!, refundId: '00000000000000c5', payEventId: payOfB };
    expect(await askB({ storeId: 'B', terminalId: 't', refund: refundOfB })).toMatchObject({ ok: true, code: 'refund_authorised' });
    expect(await ask({ storeId: 'A', terminalId: 't', refundRelease: { refundId: refundOfB.refundId } })).toMatchObject({
      ok: false,
      code: 'not_holder',
    });
    expect(centre.refund(refundOfB.refundId)).toMatchObject({ status: 'open', storeId: 'B' });
    expect(await askB({ storeId: 'B', terminalId: 't', refundRelease: { refundId: refundOfB.refundId } })).toMatchObject({
      ok: true,
      code: 'released',
    });
    // Given back already: head office says so, records nothing more, and still tells store A nothing.
    expect(await askB({ storeId: 'B', terminalId: 't', refundRelease: { refundId: refundOfB.refundId } })).toMatchObject({
      ok: true,
      code: 'already_released',
      message: expect.stringContaining('already given back'),
    });
    expect(await ask({ storeId: 'A', terminalId: 't', refundRelease: { refundId: refundOfB.refundId } })).toMatchObject({
      ok: false,
      code: 'not_holder',
    });
    expect(await ask({ storeId: 'A', terminalId: 't', refundRelease: { refundId: '00000000000000c1' } })).toMatchObject({
      ok: false,
      code: 'unknown_refund',
    });
    expect(await ask({ storeId: 'A', terminalId: 't', ...asB[4] })).toMatchObject({ ok: false, code: 'unknown_card' });
  });

  it("as itself, a store cannot capture a card not reported lost, send a card's balance to another account, nor guess a holder's identity", async () => {
    const ask = inquirer(await connectWith(credsA), 'A');
    const [returned, unblocked] = ['00000000000000d1', '00000000000000d2'];
    const bankId = (cardPrimaryIssued(returned, 'user-d1') as Extract<NewDomainEvent, { type: 'CardPrimaryIssued' }>).data.bankId!;
    await centre.openAccount(bankId, 10_000);
    await writer.append(
      [
        userRegistered('user-d1', 'A'),
        cardPrimaryIssued(returned, 'user-d1'),
        userRegistered('user-d2', 'A'),
        cardPrimaryIssued(unblocked, 'user-d2'),
      ].map((event) => ({ event, streamId: 'hq' })),
    );
    const unload = { authorizationId: '00000000000000e1', cardId: returned, bankId, cardCounter: 1 };

    // Captured as lost, a card's balance is terminated and nobody credited: not for a card never reported lost,
    // nor for one blacklisted for another reason.
    expect(await ask({ storeId: 'A', terminalId: 't', unload: { ...unload, lostCard: true } })).toMatchObject({
      ok: false,
      code: 'not_reported_lost',
    });
    await centre.changeBlacklist('blacklist', returned, 'stolen');
    expect(
      await ask({ storeId: 'A', terminalId: 't', unload: { ...unload, authorizationId: '00000000000000e2', lostCard: true } }),
    ).toMatchObject({
      ok: false,
      code: 'not_reported_lost',
    });
    await centre.changeBlacklist('reinstate', returned, 'found');
    // A return credits only the account the card was issued for.
    expect(
      await ask({ storeId: 'A', terminalId: 't', unload: { ...unload, authorizationId: '00000000000000e3', bankId: '00012340000001' } }),
    ).toMatchObject({
      ok: false,
      code: 'card_mismatch',
    });

    // Five wrong identities within a day are refused as such; from the sixth, not even the right one is checked.
    const unblock = (n: number, who: { name: string; birthDate: string }) =>
      ask({
        storeId: 'A',
        terminalId: 't',
        pinUnblock: { authorizationId: `00000000000000f${n}`, cardId: unblocked, pinResets: 0, ...who },
      });
    const { personal } = (userRegistered('user-d2', 'A') as Extract<NewDomainEvent, { type: 'UserRegistered' }>).data;
    const registered = { name: personal!.name!, birthDate: personal!.birthDate! };
    for (let n = 1; n <= 5; n++)
      expect(await unblock(n, { ...registered, birthDate: `1990-04-0${n + 1}` })).toMatchObject({
        ok: false,
        code: 'identity_mismatch',
      });
    expect(await unblock(6, registered)).toMatchObject({
      ok: false,
      code: 'too_many_attempts',
    });
  });

  it('a store cannot publish blacklist changes nor ask on behalf of another store', async () => {
    const edgeA = await connectWith(credsA);
    const violations: PermissionViolationError[] = [];
    void (async () => {
      for await (const status of edgeA.status())
        if (status.type === 'error' && status.error instanceof PermissionViolationError) violations.push(status.error);
    })();
    edgeA.publish(
      subjects.blacklistChanges,
      pb.BlacklistChange.encode({ version: 99, cardId: '00000000000000b2', blacklisted: false }).finish(),
    );
    await expect(edgeA.request(subjects.inquiry('B'), new Uint8Array(0), { timeout: 1_000 })).rejects.toThrow();
    await until(() => violations.length >= 2, 'both refusals');
    expect(violations.map((v) => `${v.operation} ${v.subject}`)).toEqual(
      expect.arrayContaining([`publish ${subjects.blacklistChanges}`, `publish ${subjects.inquiry('B')}`]),
    );
  });
});
