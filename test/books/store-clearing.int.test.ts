import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareReadModels } from '../../audit/index.js';
import { decodeEvent } from '../../contracts/index.js';
import { headOfficeProjections, type StatementView } from '../../projections/index.js';
import { settableClock, startBooksWorld, type BooksWorld } from '../../testkit/books-world.js';
import { issueCard, until, type IssuedCard, type Store } from '../../testkit/purse-world.js';

const jst = (local: string) => Date.parse(`${local}+09:00`);

interface Settlements {
  storeId: string;
  statements: StatementView[];
  owedTotal: number;
  open: { pays: { count: number; total: number }; lateWaiting: number; owedSoFar: number };
}

/** Store clearing through the real pipeline: the store's own clock stamps its pays; head office closes its days. */
describe('store clearing: settlement statements per business day', () => {
  let world: BooksWorld;
  let store: Store;
  let issued: IssuedCard;
  const clock = settableClock(jst('2025-03-30T09:00:00'));
  const settlements = () => world.get<Settlements>('operator', '/v1/stores/s1/settlements');
  /** The store's pays in its own log, with when its clock said they happened. */
  const paysInLog = () =>
    store.edge.log
      .read(1, store.edge.log.headSeq)
      .filter((entry) => entry.envelope.eventType === 'PursePaid')
      .map((entry) => ({
        atMs: entry.envelope.occurredAtMs,
        amount: (decodeEvent('PursePaid', entry.envelope.payload).data as { amount: number }).amount,
      }));
  const pay = async (amount: number) => expect(await store.command({ pay: { amount } })).toMatchObject({ ok: true });
  const atHeadOffice = async () => {
    await store.replicated();
    await world.catchUpLedger();
  };

  beforeAll(async () => {
    world = await startBooksWorld(['s1'], { books: { closeDaysEveryMs: 100, checkLoadsEveryMs: 0 } });
    store = await world.startStore('s1', { now: clock.now });
    await store.edge.nats;
    issued = await issueCard(world, { opening: 100_000 });
    store.readers.set('pos-1', issued.card);
    expect(await store.command({ load: { amount: 20_000, pin: '1234' } })).toMatchObject({ ok: true });
  });
  afterAll(async () => {
    await world?.close();
  });

  let first: StatementView;

  it("closes the store's day once it has replicated past the cut-off; the statement's totals are the day's pays", async () => {
    clock.set(jst('2025-03-30T10:00:00'));
    await pay(1_200);
    clock.set(jst('2025-03-30T18:30:00'));
    await pay(800);
    await atHeadOffice();
    // Head office has the day's pays, but not yet anything from after the store's cut-off.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await settlements()).toMatchObject({ statements: [], open: { pays: { count: 2, total: 2_000 }, owedSoFar: 2_000 } });

    clock.set(jst('2025-03-31T00:01:00'));
    await pay(300);
    await atHeadOffice();
    await until(async () => (await settlements()).statements.length === 1, 'the 30th to close');
    const view = await settlements();
    first = view.statements[0]!;
    const dayPays = paysInLog().filter((p) => p.atMs >= jst('2025-03-30T00:00:00') && p.atMs < jst('2025-03-31T00:00:00'));
    expect(dayPays).toHaveLength(2);
    expect(first).toMatchObject({
      storeId: 's1',
      businessDay: '2025-03-30',
      opensAt: '2025-03-29T15:00:00.000Z',
      closesAt: '2025-03-30T15:00:00.000Z',
      pays: { count: dayPays.length, total: dayPays.reduce((sum, p) => sum + p.amount, 0) },
      refunds: { count: 0, total: 0 },
      late: [],
      owed: 2_000,
      notes: [],
    });
    // The next day's first pay waits for the next statement.
    expect(view.open).toMatchObject({ pays: { count: 1, total: 300 }, owedSoFar: 300 });
  });

  it('books a late pay for the closed day on the next statement with a note; the closed statement stays as it was', async () => {
    // The store's clock is set back: a pay stamped 23:59 on the 30th reaches head office after the 30th closed.
    clock.set(jst('2025-03-30T23:59:00'));
    await pay(700);
    await atHeadOffice();
    await until(async () => (await settlements()).open.lateWaiting === 1, 'the late pay to wait for the next statement');
    expect((await settlements()).statements).toEqual([first]);

    clock.set(jst('2025-04-01T00:02:00'));
    await pay(50);
    await atHeadOffice();
    await until(async () => (await settlements()).statements.length === 2, 'the 31st to close');
    const view = await settlements();
    expect(view.statements[0]).toEqual(first);
    const second = view.statements[1]!;
    expect(second).toMatchObject({ businessDay: '2025-03-31', pays: { count: 1, total: 300 }, owed: 1_000 });
    expect(second.late).toMatchObject([{ kind: 'pay', amount: 700, businessDay: '2025-03-30', cardId: issued.cardId }]);
    expect(second.late[0]!.occurredAt).toMatch(/^2025-03-30T14:59:0\d\.\d{3}Z$/);
    expect(second.notes).toHaveLength(1);
    expect(second.notes[0]).toMatch(
      /^late pay of ¥700 \(card [0-9a-f]{16}, counter \d+\) made 2025-03-30T14:59:\d\d\.\d{3}Z on business day 2025-03-30, which was closed/,
    );
    expect(view.owedTotal).toBe(3_000);
    expect(view.open).toMatchObject({ pays: { count: 1, total: 50 }, lateWaiting: 0 });
  });

  it('exports the statements as CSV, by format=csv and by Accept: text/csv', async () => {
    const byFormat = await world.api.inject({ method: 'GET', url: '/v1/stores/s1/settlements?format=csv', headers: world.as('operator') });
    const byAccept = await world.api.inject({
      method: 'GET',
      url: '/v1/stores/s1/settlements',
      headers: { accept: 'text/csv', ...world.as('operator') },
    });
    expect(byFormat.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(byFormat.headers['content-disposition']).toBe('attachment; filename="settlements-s1.csv"');
    expect(byAccept.body).toBe(byFormat.body);
    const lines = byFormat.body.split('\r\n');
    expect(lines[0]).toBe(
      'store_id,business_day,opens_at,closes_at,closed_at,pays_count,pays_total,refunds_count,refunds_total,late_count,late_total,owed,notes',
    );
    expect(lines[1]).toMatch(/^s1,2025-03-30,2025-03-29T15:00:00\.000Z,2025-03-30T15:00:00\.000Z,[^,]+,2,2000,0,0,0,0,2000,$/);
    // The note holds commas, so it is quoted.
    expect(lines[2]).toMatch(/^s1,2025-03-31,.*,1,300,0,0,1,700,1000,"late pay of ¥700 .*: booked on this statement"$/);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe('');
    const range = await world.get<Settlements>('auditor', '/v1/stores/s1/settlements?from=2025-03-31&to=2025-03-31');
    expect(range.statements.map((s) => s.businessDay)).toEqual(['2025-03-31']);
    expect(
      (await world.api.inject({ method: 'GET', url: '/v1/stores/s1/settlements?from=31.3.2025', headers: world.as('operator') })).json(),
    ).toMatchObject({
      error: 'bad_request',
      field: 'from',
    });
    expect((await world.api.inject({ method: 'GET', url: '/v1/stores/nope/settlements', headers: world.as('operator') })).statusCode).toBe(
      404,
    );
  });

  it('the statements rebuilt from zero equal the live ones, and the audit finds the read models equal', async () => {
    const live = await settlements();
    await world.runner.rebuild();
    expect(await settlements()).toEqual(live);
    const books = headOfficeProjections(world.master).filter((projection) => ['books', 'purse-ledger'].includes(projection.name));
    const compared = await compareReadModels({ store: world.backbone.store, currentFile: world.runner.db.name, projections: books });
    expect(compared.findings).toEqual([]);
    expect(compared.tables).toBeGreaterThan(0);
  });
});
