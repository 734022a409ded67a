import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cardIdBytes, deriveCardKey, terminalIdOf, transactionMac, type IssuerMasterKeys } from '../../card/index.js';
import { generateSigningKey, type NewDomainEvent } from '../../contracts/index.js';
import { SqliteEventStore, type EventStore } from '../../eventstore/index.js';
import { buildApi, headOfficeAccess, type Role, tokenFor } from '../../host/api/index.js';
import { headOfficeBooks } from '../../host/books/index.js';
import { HqWriter } from '../../host/hq-writer/index.js';
import { headOfficeProjections, ProjectionRunner, READ_MODELS_FILE } from '../../projections/index.js';
import { EVENTS_FILE } from '../../host/index.js';
import { issuerKeysFile, loadOrCreateIssuerKeys } from '../../host/provisioning/index.js';
import { startBooksWorld, type BooksWorld } from '../../testkit/books-world.js';
import { issueCard, until, type Store } from '../../testkit/purse-world.js';
import { EnvelopeChain } from '../support/envelope-chain.js';

interface FloatReport {
  asOf: string;
  byEventTime: { total: number; cards: number };
  byKnowledgeTime: { total: number; cards: number };
  difference: number;
  storesNotYetPast: { count: number; storeIds: string[] };
}

describe('the float by event time and by knowledge time, through the real pipeline', () => {
  let world: BooksWorld;
  let online: Store;
  let offline: Store;

  beforeAll(async () => {
    world = await startBooksWorld(['s1', 's2'], { books: { closeDaysEveryMs: 0, checkLoadsEveryMs: 0 } });
    online = await world.startStore('s1');
    offline = await world.startStore('s2');
    await Promise.all([online.edge.nats, offline.edge.nats]);
  });
  afterAll(async () => {
    await world?.close();
  });

  it("an offline store's pays before the date arrive after it: the two figures as of the date differ, and as of later agree", async () => {
    const a = await issueCard(world, { opening: 50_000 });
    const b = await issueCard(world, { opening: 50_000 });
    online.readers.set('pos-1', a.card);
    expect(await online.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true });
    offline.readers.set('pos-1', b.card);
    expect(await offline.command({ load: { amount: 8_000, pin: '1234' } })).toMatchObject({ ok: true });
    await Promise.all([online.replicated(), offline.replicated()]);

    offline.link.cut();
    expect(await offline.command({ pay: { amount: 1_000 } })).toMatchObject({ ok: true, balance: 7_000 });
    expect(await offline.command({ pay: { amount: 500 } })).toMatchObject({ ok: true, balance: 6_500 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const baseDate = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 20));
    await world.catchUpLedger();

    // Before store s2 reports, head office knows nothing of its pays: both figures are the loads.
    const before = await world.get<FloatReport>('operator', `/v1/float?asOf=${baseDate}`);
    expect(before).toMatchObject({
      asOf: baseDate,
      byEventTime: { total: 18_000, cards: 2 },
      byKnowledgeTime: { total: 18_000, cards: 2 },
      difference: 0,
    });
    expect(before.storesNotYetPast.storeIds).toContain('s2');

    offline.link.restore();
    await offline.replicated();
    await world.catchUpLedger();
    await until(
      async () => (await world.get<FloatReport>('operator', `/v1/float?asOf=${baseDate}`)).byEventTime.total === 16_500,
      "the offline store's pays in the books",
    );

    // As of the base date: what was on the cards then, and what head office knew then.
    const after = await world.get<FloatReport>('operator', `/v1/float?asOf=${baseDate}`);
    expect(after).toMatchObject({ byEventTime: { total: 16_500 }, byKnowledgeTime: { total: 18_000 }, difference: -1_500 });
    // As of now both agree: head office knows everything that happened.
    const now = await world.get<FloatReport>('operator', '/v1/float');
    expect(now).toMatchObject({ byEventTime: { total: 16_500, cards: 2 }, byKnowledgeTime: { total: 16_500, cards: 2 }, difference: 0 });

    const perCard = await world.get<{ cards: Array<{ cardId: string; byEventTime: number; byKnowledgeTime: number }> }>(
      'operator',
      `/v1/float/cards?asOf=${baseDate}`,
    );
    expect(perCard.cards).toEqual(
      expect.arrayContaining([
        { cardId: a.cardId, byEventTime: 10_000, byKnowledgeTime: 10_000 },
        { cardId: b.cardId, byEventTime: 6_500, byKnowledgeTime: 8_000 },
      ]),
    );
    expect(await world.get('operator', `/v1/float?asOf=${baseDate}&cardId=${b.cardId}`)).toMatchObject({
      cardId: b.cardId,
      byEventTime: 6_500,
      byKnowledgeTime: 8_000,
    });
    const csv = await world.api.inject({
      method: 'GET',
      url: `/v1/float/cards?asOf=${baseDate}`,
      headers: { accept: 'text/csv', ...world.as('operator') },
    });
    expect(csv.body.split('\r\n')).toEqual(
      expect.arrayContaining(['card_id,by_event_time,by_knowledge_time', `${a.cardId},10000,10000`, `${b.cardId},6500,8000`]),
    );

    const later = new Date().toISOString();
    const rebuilt = async () => [
      await world.get('operator', `/v1/float?asOf=${baseDate}`),
      await world.get('operator', `/v1/float?asOf=${later}`),
      await world.get('operator', `/v1/float/cards?asOf=${baseDate}`),
    ];
    const live = await rebuilt();
    await world.runner.rebuild();
    expect(await rebuilt()).toEqual(live);
  });

  it('refuses an asOf that is neither an instant nor a date', async () => {
    const bad = await world.api.inject({ method: 'GET', url: '/v1/float?asOf=yesterday', headers: world.as('operator') });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: 'bad_request', field: 'asOf' });
  });
});

/** A card movement as the chip makes it, MACed with the card's transaction key. */
function chipMovement(
  master: IssuerMasterKeys,
  m: { kind: 'load' | 'pay'; cardId: string; counter: number; amount: number; newBalance: number; storeId: string },
): NewDomainEvent {
  const card = cardIdBytes(m.cardId);
  const cardMac = transactionMac(
    deriveCardKey(master.transaction, card, 'transaction'),
    m.kind === 'load' ? 'credit' : 'debit',
    card,
    m.counter,
    m.amount,
    m.newBalance,
    terminalIdOf('pos-1'),
  );
  const fields = {
    cardId: m.cardId,
    amount: m.amount,
    newBalance: m.newBalance,
    cardCounter: m.counter,
    cardMac,
    storeId: m.storeId,
    terminalId: 'pos-1',
  };
  return m.kind === 'load'
    ? { type: 'PurseLoaded', data: { ...fields, authorizationId: `auth-${m.cardId}-${m.counter}` } }
    : { type: 'PursePaid', data: fields };
}

const jst = (local: string) => new Date(`${local}+09:00`);

describe('the Payment Services Act base dates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-base-dates-'));
  const hqDir = join(dir, 'data', 'hq');
  const master = loadOrCreateIssuerKeys(issuerKeysFile(hqDir)).keys;
  let store: EventStore;
  let runner: ProjectionRunner;
  let api: Awaited<ReturnType<typeof buildApi>>;
  const chains = { s1: new EnvelopeChain('s1'), s2: new EnvelopeChain('s2') };
  const X = '00000000000000a1';
  const Y = '00000000000000b2';
  let hqWriter: HqWriter;
  /** GET on the books' routes as a caller in this role (a token from head office's key in its folder). */
  const get = async (role: Role, url: string) =>
    api.inject({ method: 'GET', url, headers: { authorization: `Bearer ${await tokenFor(hqDir, role)}` } });
  const report = async () => (await get('operator', '/v1/float/base-dates?year=2025')).json();

  /** Appends a store's batch as the ingest does: the envelopes (each with its own occurred-at), then the chain head, received at `receivedAt`. */
  async function batch(storeId: 's1' | 's2', events: Array<[NewDomainEvent, Date]>, receivedAt: Date) {
    const chain = chains[storeId];
    const records = events.map(([event, at]) => chain.next(event, { occurredAt: at }).record);
    await store.appendToStream(
      `store-${storeId}`,
      [...records, chain.chainHeadRecord({ receivedAt })],
      (await store.streamRevision(`store-${storeId}`)) ?? 'no_stream',
    );
  }

  /** Head office's read models (every one it keeps) and the books' routes over them. */
  async function openReadModels() {
    runner = ProjectionRunner.open({ file: join(hqDir, READ_MODELS_FILE), store, projections: headOfficeProjections(master) });
    runner.start();
    const logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
    api = await buildApi({
      store,
      runner,
      access: headOfficeAccess(hqDir, hqWriter),
      plugins: [headOfficeBooks({ store, runner, logger }).routes()],
    });
    await runner.waitForPosition((await store.headPosition())!);
  }

  beforeAll(async () => {
    store = SqliteEventStore.open(join(hqDir, EVENTS_FILE));
    // Store s1 loads ¥10,000,001 onto two cards in March; head office hears at once.
    const loadX = chipMovement(master, { kind: 'load', cardId: X, counter: 1, amount: 9_000_000, newBalance: 9_000_000, storeId: 's1' });
    await batch('s1', [[loadX, jst('2025-03-20T10:00:00')]], jst('2025-03-20T10:00:01'));
    const loadY = chipMovement(master, { kind: 'load', cardId: Y, counter: 1, amount: 1_000_001, newBalance: 1_000_001, storeId: 's1' });
    await batch('s1', [[loadY, jst('2025-03-25T10:00:00')]], jst('2025-03-25T10:00:01'));
    // Store s2 is offline on the base date: a pay of ¥1 at noon on 31 March reaches head office on 1 April.
    const payY = chipMovement(master, { kind: 'pay', cardId: Y, counter: 2, amount: 1, newBalance: 1_000_000, storeId: 's2' });
    const payY2 = chipMovement(master, { kind: 'pay', cardId: Y, counter: 3, amount: 1_000, newBalance: 999_000, storeId: 's2' });
    await batch(
      's2',
      [
        [payY, jst('2025-03-31T12:00:00')],
        [payY2, jst('2025-04-01T09:00:00')],
      ],
      jst('2025-04-01T09:05:00'),
    );
    const payX = chipMovement(master, { kind: 'pay', cardId: X, counter: 2, amount: 500_000, newBalance: 8_500_000, storeId: 's1' });
    await batch('s1', [[payX, jst('2025-04-02T10:00:00')]], jst('2025-04-02T10:00:01'));
    // Head office's writer records the personal-data reads (card statements) in `hq`.
    hqWriter = await HqWriter.open({ store, signingKey: generateSigningKey() });
    await openReadModels();
  });
  afterAll(async () => {
    await api?.close();
    await runner?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on 31 March: ¥10,000,000 on the cards (no deposit), ¥10,000,001 as head office knew it then (deposit ¥5,000,001); 30 September agrees', async () => {
    const found = await report();
    expect(found).toMatchObject({ year: 2025, thresholdYen: 10_000_000 });
    const [march, september] = found.baseDates;
    expect(march).toEqual({
      date: '2025-03-31',
      asOf: '2025-03-31T14:59:59.999Z',
      byEventTime: { total: 10_000_000, cards: 2, exceedsThreshold: false, requiredDeposit: 0 },
      byKnowledgeTime: { total: 10_000_001, cards: 2, exceedsThreshold: true, requiredDeposit: 5_000_001 },
      final: true,
      storesNotYetPast: { count: 0, storeIds: [] },
    });
    expect(september).toMatchObject({
      date: '2025-09-30',
      byEventTime: { total: 9_499_000, exceedsThreshold: false, requiredDeposit: 0 },
      byKnowledgeTime: { total: 9_499_000, exceedsThreshold: false, requiredDeposit: 0 },
      // Neither store has reported anything from after 30 September yet.
      final: false,
      storesNotYetPast: { count: 2, storeIds: ['s1', 's2'] },
    });
    // A date is read as its end in Japan time.
    const byDate = (await get('operator', '/v1/float?asOf=2025-03-31')).json();
    expect(byDate).toMatchObject({
      asOf: '2025-03-31T14:59:59.999Z',
      byEventTime: { total: 10_000_000 },
      byKnowledgeTime: { total: 10_000_001 },
    });
    expect((await get('operator', '/v1/float/base-dates')).json()).toMatchObject({
      error: 'bad_request',
      field: 'year',
    });
  });

  it('the report after `cardsys projections rebuild` equals the live one', async () => {
    const live = await report();
    const statement = (await get('auditor', `/v1/cards/${Y}/statement`)).json();
    await api.close();
    await runner.close();
    const rebuild = spawnSync(process.execPath, ['bin/cardsys.js', 'projections', 'rebuild', '--data', join(dir, 'data')], {
      encoding: 'utf8',
    });
    expect(rebuild.status).toBe(0);
    expect(rebuild.stderr).toMatch(/events replayed into .*purse-ledger, books in/);
    await openReadModels();
    expect(await report()).toEqual(live);
    expect((await get('auditor', `/v1/cards/${Y}/statement`)).json()).toEqual(statement);
  });
});
