import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { generateSigningKey } from '../../contracts/index.js';
import { auditDefaults } from '../../cli/commands/index.js';
import type { Finding, ReplayResult, VerifiedEvent } from '../../audit/index.js';
import { makePipelineHistory, type PipelineHistory } from './pipeline-history.js';
import {
  deleteEvent,
  editPayload,
  flipPayloadByte,
  injectEvent,
  rewriteChain,
  storedEvents,
  swapEvents,
  type StoredEvent,
} from './tamper.js';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'cardsys.js');

function cardsys(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** `cardsys audit replay --json`: stdout must be one JSON object and nothing else. */
function replay(dataDir: string, ...extra: string[]): { code: number | null; result: ReplayResult & { source: string } } {
  const run = cardsys('audit', 'replay', '--data', dataDir, '--json', ...extra);
  expect(run.stdout.trim().split('\n'), run.stderr).toHaveLength(1);
  return { code: run.code, result: JSON.parse(run.stdout) };
}

const checksOf = (findings: Finding[]) => [...new Set(findings.map((f) => f.check))].sort();
/**
 * Findings about the events themselves. Head office's read models were built from the genuine
 * events, so after tampering with the events the rebuild disagrees with them as well.
 */
const aboutEvents = (findings: Finding[]) => findings.filter((f) => f.check !== 'projection');
const named = (event: StoredEvent) => ({ store: event.envelope.storeId, seq: event.envelope.storeSeq, eventId: event.envelope.eventId });

let history: PipelineHistory;

beforeAll(async () => {
  history = await makePipelineHistory({ stores: ['s1', 's2'], cards: 6, operations: 120 });
}, 120_000);

afterAll(() => {
  if (history) rmSync(history.dir, { recursive: true, force: true });
});

/** A PursePaid of store s1 in the middle of its chain (not the first, not the last). */
function middlePay(dataDir: string): { event: StoredEvent; before: StoredEvent; after: StoredEvent } {
  const events = storedEvents(dataDir, 's1');
  const index = events.findIndex((e, i) => i > events.length / 3 && e.envelope.eventType === 'PursePaid');
  return { event: events[index]!, before: events[index - 1]!, after: events[index + 1]! };
}

describe('cardsys audit on a history made by the real pipeline', () => {
  it('a clean history: exit 0, no findings, every event and head verified', () => {
    const { code, result } = replay(history.dir);
    expect(result.findings).toEqual([]);
    expect(code).toBe(0);
    expect(result.ok).toBe(true);
    const s1 = result.origins.find((o) => o.origin === 's1')!;
    expect(s1).toMatchObject({ events: 60, lastSeq: 60, coveredSeq: 60 });
    expect(result.purse.loads + result.purse.pays).toBe(history.storeEvents);
    expect(result.purse.debits).toBe(result.purse.loads);
    expect(result.notes.filter((note) => note.includes('not checked') || note.includes('read models were not compared'))).toEqual([]);
    expect(result.notes.some((note) => /read models compared at position \d+: \d+ tables/.test(note))).toBe(true);
  });

  it("head office's read models edited: the rebuild from the events disagrees and says where", () => {
    const dir = history.copy();
    const db = new Database(auditDefaults.readModels(dir));
    const changed = db
      .prepare('UPDATE card_usage SET paid_total = paid_total + 500 WHERE card_id = (SELECT MIN(card_id) FROM card_usage)')
      .run();
    db.close();
    expect(changed.changes).toBe(1);
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    expect(result.findings).toHaveLength(1);
    expect(result.findings[0]).toMatchObject({ check: 'projection' });
    expect(result.findings[0]!.message).toContain('card_usage');
  });

  it("head office's purse ledger edited (a shadow balance raised): the rebuild disagrees", () => {
    const dir = history.copy();
    const db = new Database(auditDefaults.readModels(dir));
    const changed = db
      .prepare('UPDATE purse_cards SET balance = balance + 1000 WHERE card_id = (SELECT MIN(card_id) FROM purse_cards)')
      .run();
    db.close();
    expect(changed.changes).toBe(1);
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    expect(result.findings).toEqual([
      expect.objectContaining({ check: 'projection', message: expect.stringContaining('purse-ledger, table purse_cards') }),
    ]);
  });

  it('export, then replay the export file: the same verdict, and the manifest counts every origin', () => {
    const file = join(history.dir, 'history.export');
    const exported = cardsys('audit', 'export', '--data', history.dir, '--out', file, '--json');
    expect(exported.code, exported.stderr).toBe(0);
    const manifest = JSON.parse(exported.stdout);
    expect(manifest.origins.find((o: { origin: string }) => o.origin === 's1')).toMatchObject({ events: 60, firstSeq: 1, lastSeq: 60 });
    expect(manifest.bodySha256).toMatch(/^[0-9a-f]{64}$/);
    const { code, result } = replay(history.dir, '--file', file);
    expect(result.findings).toEqual([]);
    expect(code).toBe(0);
    expect(result.events).toBe(manifest.origins.reduce((n: number, o: { events: number }) => n + o.events, 0));
  });

  it('one byte flipped in a stored event payload: named as changed after it was chained', () => {
    const dir = history.copy();
    const { event } = middlePay(dir);
    flipPayloadByte(dir, event, 5);
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    expect(result.findings).toContainEqual(expect.objectContaining({ check: 'chain.hash', ...named(event) }));
    expect(
      result.findings.filter((f) => f.check.startsWith('chain') || f.check.startsWith('sequence') || f.check.startsWith('head')),
    ).toHaveLength(1);

    const verified = cardsys('audit', 'verify-event', event.envelope.eventId, '--data', dir, '--json');
    expect(verified.code).toBe(1);
    const report = JSON.parse(verified.stdout) as VerifiedEvent;
    expect(report).toMatchObject({ ok: false, previousLink: 'ok' });
    expect(report.nextLink === 'broken' || report.head?.coversEvent === false).toBe(true);
  });

  it('one event deleted: the missing sequence is named, between its neighbours', () => {
    const dir = history.copy();
    const { event, after } = middlePay(dir);
    deleteEvent(dir, event);
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    const gap = result.findings.find((f) => f.check === 'sequence.gap');
    expect(gap).toMatchObject({ store: 's1', seq: event.envelope.storeSeq });
    expect(gap!.message).toContain(after.envelope.eventId);
    expect(checksOf(result.findings).filter((c) => c.startsWith('chain') || c.startsWith('head'))).toEqual([]);
    // The card's counter shows the lost movement too.
    expect(result.findings).toContainEqual(expect.objectContaining({ check: 'card.counter' }));
  });

  it('two events swapped: named as stored out of order, and otherwise verified in sequence order', () => {
    const dir = history.copy();
    const { event, after } = middlePay(dir);
    swapEvents(dir, event, after);
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    const findings = aboutEvents(result.findings);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'sequence.order', ...named(event) });
    expect(findings[0]!.message).toContain(after.envelope.eventId);
  });

  it('an event injected with a valid-looking envelope but no valid signature: its head and the event are named', () => {
    const dir = history.copy();
    const last = storedEvents(dir, 's1').at(-1)!;
    const injected = injectEvent(
      dir,
      's1',
      {
        type: 'PursePaid',
        data: {
          cardId: 'c0ffee0000000001',
          amount: 100,
          newBalance: 0,
          cardCounter: 999,
          cardMac: new Uint8Array(8),
          storeId: 's1',
          terminalId: 'x',
        },
      },
      { ...generateSigningKey(), keyId: history.storeKeys.get('s1')!.keyId },
    );
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    expect(result.findings).toContainEqual(
      expect.objectContaining({ check: 'head.signature', store: 's1', seq: last.envelope.storeSeq + 1 }),
    );
    expect(result.findings).toContainEqual(
      expect.objectContaining({ check: 'chain.unsigned', store: 's1', seq: injected.storeSeq, eventId: injected.eventId }),
    );
    expect(result.findings).toContainEqual(expect.objectContaining({ check: 'card.mac', eventId: injected.eventId }));
  });

  it('a PursePaid whose amount was raised, chain re-signed with the store key: the card MAC and the balance name it', () => {
    const dir = history.copy();
    const { event } = middlePay(dir);
    rewriteChain(dir, 's1', history.storeKeys.get('s1')!, (envelope) =>
      envelope.eventId === event.envelope.eventId
        ? editPayload<{ amount: number }>(envelope, (data) => ({ ...data, amount: data.amount + 1_000 }))
        : envelope,
    );
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    expect(checksOf(result.findings)).toEqual(['card.mac', 'projection', 'purse.balance']);
    for (const finding of aboutEvents(result.findings)) expect(finding).toMatchObject(named(event));
  });

  it('a load with no account debit (head office chain re-signed without the debit): the load is named', () => {
    const dir = history.copy();
    const load = storedEvents(dir, 's2').find((e) => e.envelope.eventType === 'PurseLoaded')!;
    const { authorizationId } = editPayloadData<{ authorizationId: string }>(load);
    rewriteChain(dir, 'hq', history.hqKey, (envelope) =>
      envelope.eventType === 'BankAccountDebited' &&
      editPayloadData<{ authorizationId: string }>({ envelope } as StoredEvent).authorizationId === authorizationId
        ? undefined
        : envelope,
    );
    const { code, result } = replay(dir);
    expect(code).toBe(1);
    const findings = aboutEvents(result.findings);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ check: 'load.debit', ...named(load) });
    expect(findings[0]!.message).toContain(authorizationId);
  });

  it('verify-event on a clean event: its neighbours link and its signed head verifies', () => {
    const { event, before, after } = middlePay(history.dir);
    const run = cardsys('audit', 'verify-event', event.envelope.eventId, '--data', history.dir, '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as VerifiedEvent;
    expect(report).toMatchObject({
      ok: true,
      previousLink: 'ok',
      nextLink: 'ok',
      previous: { seq: before.envelope.storeSeq, eventId: before.envelope.eventId },
      next: { seq: after.envelope.storeSeq, eventId: after.envelope.eventId },
      head: { signatureValid: true, coversEvent: true, keyId: history.storeKeys.get('s1')!.keyId },
    });
    expect(report.head!.seq).toBeGreaterThanOrEqual(event.envelope.storeSeq);
  });

  it('verify-event on an id two origins hold: refused without --store, each verified with it', () => {
    // Ids are unique within an origin's stream only: store s2 chains and signs an event under an id of s1's.
    const dir = history.copy();
    const { event } = middlePay(dir);
    const id = event.envelope.eventId;
    const pay = {
      cardId: 'c0ffee0000000001',
      amount: 100,
      newBalance: 0,
      cardCounter: 999,
      cardMac: new Uint8Array(8),
      storeId: 's2',
      terminalId: 'x',
    };
    const squatted = injectEvent(dir, 's2', { type: 'PursePaid', data: pay }, history.storeKeys.get('s2')!, id);
    const ambiguous = cardsys('audit', 'verify-event', id, '--data', dir, '--json');
    expect(ambiguous.code).not.toBe(0);
    expect(JSON.parse(ambiguous.stdout)).toMatchObject({
      ok: false,
      error: `event id ${id} is held by more than one origin (s1, s2): name the one to verify with --store <id>`,
    });
    const s1 = cardsys('audit', 'verify-event', id, '--store', 's1', '--data', dir, '--json');
    expect(s1.code, s1.stderr).toBe(0);
    expect(JSON.parse(s1.stdout)).toMatchObject({ ok: true, event: { origin: 's1', seq: event.envelope.storeSeq }, nextLink: 'ok' });
    const s2 = cardsys('audit', 'verify-event', id, '--store', 's2', '--data', dir, '--json');
    expect(s2.code, s2.stderr).toBe(0);
    expect(JSON.parse(s2.stdout)).toMatchObject({
      ok: true,
      event: { origin: 's2', seq: squatted.storeSeq },
      head: { signatureValid: true, coversEvent: true },
    });
    const elsewhere = cardsys('audit', 'verify-event', id, '--store', 'hq', '--data', dir);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr).toContain(`no event ${id} of hq in`);
  });

  it('bad input gets a clear message and a non-zero exit', () => {
    const missing = cardsys('audit', 'replay', '--data', join(history.dir, 'nowhere'), '--json');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no event store at');
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: expect.stringContaining('no event store at') });
    const position = cardsys('audit', 'replay', '--data', history.dir, '--from', 'abc');
    expect(position.stderr).toContain('--from must be a whole number');
    const unknown = cardsys('audit', 'verify-event', '00000000-0000-4000-8000-000000000000', '--data', history.dir);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no event 00000000-0000-4000-8000-000000000000');
  });
});

function editPayloadData<T>(event: Pick<StoredEvent, 'envelope'>): T {
  let data: T | undefined;
  editPayload<object>(event.envelope, (d) => {
    data = d as T;
    return d;
  });
  return data!;
}
