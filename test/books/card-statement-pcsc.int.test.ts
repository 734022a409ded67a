import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOG_CAPACITY, terminalKeysOf } from '../../card/index.js';
import { storeTerminalName } from '../../contracts/index.js';
import type { CardStatementEntry } from '../../projections/index.js';
import { ChipTerminal } from '../../reader/index.js';
import { startBooksWorld, type BooksWorld } from '../../testkit/books-world.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { issueCard, type Store } from '../../testkit/purse-world.js';

interface Statement {
  cardId: string;
  balance: number;
  counter: number;
  missingCounters: number[];
  entries: CardStatementEntry[];
}

// The customer's statement against the chip's own usage log, with the card behind the real PC/SC
// stack: pcsclite → pcscd → vpcd → the virtual card.
describe("a card's statement matches the chip's usage log (through pcscd + vpcd)", () => {
  let world: BooksWorld;
  let store: Store;
  let rig: PcscRig;

  beforeAll(async () => {
    world = await startBooksWorld(['s1'], { books: { closeDaysEveryMs: 0, checkLoadsEveryMs: 0 } });
    store = await world.startStore('s1');
    await store.edge.nats;
    rig = await openPcscRig(world.master.transport);
  });
  afterAll(async () => {
    await rig?.close();
    await world?.close();
  });

  it('every movement with its date, store, amount, balance after and card MAC; the entries the chip still holds read the same there', async () => {
    const issued = await issueCard(world, { opening: 50_000 });
    const card = await rig.newCard(issued.card.state);
    store.readers.set('pos-1', card.transport);
    expect(await store.command({ load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });
    // More movements than the chip's log holds, so its oldest ones are gone from the chip.
    const pays = Array.from({ length: LOG_CAPACITY + 1 }, (_, i) => 100 + i * 10);
    for (const amount of pays) expect(await store.command({ pay: { amount } })).toMatchObject({ ok: true });
    expect(await store.command({ load: { amount: 3_000, pin: '1234' } })).toMatchObject({ ok: true });
    await store.replicated();
    await world.catchUpLedger();

    // A counter clerk prints it for the customer.
    const statement = await world.get<Statement>('clerk', `/v1/cards/${issued.cardId}/statement`);
    const movements = pays.length + 2;
    expect(statement).toMatchObject({ cardId: issued.cardId, counter: movements, missingCounters: [] });
    expect(statement.entries.map((entry) => entry.cardCounter)).toEqual(Array.from({ length: movements }, (_, i) => i + 1));
    let balance = 0;
    for (const entry of statement.entries) {
      balance += entry.kind === 'load' ? entry.amount : -entry.amount;
      expect(entry).toMatchObject({ balanceAfter: balance, storeId: 's1', terminalId: storeTerminalName('s1', 'pos-1') });
      expect(entry.knownAt).not.toBeNull();
    }
    expect(statement.balance).toBe(balance);
    expect(card.state().issued?.balance).toBe(balance);

    // The chip's own log, read through the reader by a terminal of our own.
    const terminal = new ChipTerminal(card.transport, { keys: terminalKeysOf(world.master), terminalName: 'statement-check' });
    await terminal.select();
    await terminal.authenticate();
    const chipLog = await terminal.readLog();
    expect(chipLog).toHaveLength(LOG_CAPACITY);
    for (const record of chipLog) {
      const entry = statement.entries.find((e) => e.cardCounter === record.counter);
      expect(entry, `statement entry for chip counter ${record.counter}`).toBeDefined();
      expect({
        kind: entry!.kind,
        amount: entry!.amount,
        balanceAfter: entry!.balanceAfter,
        terminal: entry!.chipTerminalId,
        mac: entry!.cardMac,
      }).toEqual({
        kind: record.operation === 'credit' ? 'load' : 'pay',
        amount: record.amount,
        balanceAfter: record.balanceAfter,
        terminal: record.terminalId,
        mac: record.mac,
      });
      // The chip logs whole seconds when the terminal sent the command; the store stamps its event just after.
      expect(Math.abs(Date.parse(entry!.occurredAt) - record.time.getTime())).toBeLessThan(2_000);
    }
    // The statement goes back further than the chip: its oldest movements are on the statement only.
    expect(Math.min(...chipLog.map((record) => record.counter))).toBe(movements - LOG_CAPACITY + 1);

    const csv = await world.api.inject({
      method: 'GET',
      url: `/v1/cards/${issued.cardId}/statement?format=csv`,
      headers: world.as('clerk'),
    });
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe('card_counter,occurred_at,kind,amount,balance_after,store_id,terminal_id,chip_terminal_id,card_mac,event_id');
    expect(lines).toHaveLength(movements + 1);
    const last = statement.entries.at(-1)!;
    expect(lines.at(-1)).toBe(
      [
        last.cardCounter,
        last.occurredAt,
        last.kind,
        last.amount,
        last.balanceAfter,
        's1',
        storeTerminalName('s1', 'pos-1'),
        last.chipTerminalId,
        last.cardMac,
        last.eventId,
      ].join(','),
    );

    await world.runner.rebuild();
    expect(await world.get<Statement>('auditor', `/v1/cards/${issued.cardId}/statement`)).toEqual(statement);
    expect(
      (await world.api.inject({ method: 'GET', url: '/v1/cards/00000000000000ff/statement', headers: world.as('clerk') })).statusCode,
    ).toBe(404);

    // The statement shows where and when the customer paid: personal data, kept from the other roles, each read recorded.
    for (const role of ['operator', 'viewer'] as const) {
      const refused = await world.api.inject({ method: 'GET', url: `/v1/cards/${issued.cardId}/statement`, headers: world.as(role) });
      expect(refused.statusCode, role).toBe(403);
    }
    await world.catchUpLedger();
    const log = await world.get<{ entries: Array<{ role: string; access: string; route: string; ids: Record<string, string> }> }>(
      'auditor',
      '/v1/access-log?subject=clerk-1',
    );
    expect(log.entries.filter((entry) => entry.route === '/v1/cards/:cardId/statement')).toEqual([
      expect.objectContaining({ role: 'clerk', access: 'personal_read', ids: { cardId: issued.cardId } }),
      expect.objectContaining({ role: 'clerk', access: 'personal_read', ids: { cardId: issued.cardId } }),
      expect.objectContaining({ role: 'clerk', access: 'personal_read', ids: { cardId: '00000000000000ff' } }),
    ]);
  });
});
