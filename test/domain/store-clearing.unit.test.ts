import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../contracts/index.js';
import {
  JAPAN_BUSINESS_DAY,
  businessDayBounds,
  businessDayOf,
  closingMayBeDue,
  storeClearingDecider,
  type ClearingEntry,
  type ClearingFact,
} from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const jst = (local: string) => Date.parse(`${local}+09:00`);
const spec = DeciderSpecification.forFacts(storeClearingDecider('s1'), (event): ClearingFact => {
  if (event.type !== 'StoreDayClosed') throw new Error(`store clearing decides StoreDayClosed only, not ${event.type}`);
  return { type: 'day_closed', closed: event.data };
});
const close = { kind: 'close_days', rule: JAPAN_BUSINESS_DAY } as const;

type StoreEventFact = Extract<ClearingFact, { type: 'store_event' }>;

let seq = 0;
/** A pay of the store, seq after the previous one. */
function pay(at: string, amount: number): StoreEventFact & { entry: ClearingEntry } {
  seq += 1;
  const entry: ClearingEntry = {
    eventId: `e${seq}`,
    storeSeq: seq,
    side: 'pay',
    cardId: 'c1',
    cardCounter: seq,
    amount,
    occurredAtMs: jst(at),
  };
  return { type: 'store_event', storeSeq: seq, occurredAtMs: entry.occurredAtMs, entry };
}
/** Any other event of the store (a card issued, say): the store's log has passed this instant. */
function other(at: string): StoreEventFact {
  seq += 1;
  return { type: 'store_event', storeSeq: seq, occurredAtMs: jst(at) };
}
const day31 = businessDayBounds('2025-03-31', JAPAN_BUSINESS_DAY);

interface StatementFields {
  coversToStoreSeq: number;
  storeReachedAtMs: number;
  paysCount?: number;
  paysTotal?: number;
  lateEntries?: ClearingEntry[];
  owed: number;
}

/** A statement as the decision makes it (`event`) and as head office then holds it (`fact`). */
function statement(day: string, fields: StatementFields): { event: NewDomainEvent; fact: ClearingFact } {
  const bounds = businessDayBounds(day, JAPAN_BUSINESS_DAY);
  const { lateEntries = [], ...totals } = fields;
  const data = {
    storeId: 's1',
    businessDay: day,
    ...bounds,
    paysCount: 0,
    paysTotal: 0,
    refundsCount: 0,
    refundsTotal: 0,
    ...totals,
    lateEntries: lateEntries.map((entry) => ({
      eventId: entry.eventId,
      kind: entry.side,
      cardId: entry.cardId,
      cardCounter: entry.cardCounter,
      amount: entry.amount,
      occurredAtMs: entry.occurredAtMs,
      businessDay: businessDayOf(entry.occurredAtMs, JAPAN_BUSINESS_DAY),
    })),
  };
  return {
    event: { type: 'StoreDayClosed', data },
    fact: { type: 'day_closed', closed: { businessDay: day, coversToStoreSeq: fields.coversToStoreSeq, ...bounds } },
  };
}

describe('business days in Japan time', () => {
  it('a business day is the JST date with the cut-off at 00:00 JST; the cut-off hour moves it', () => {
    expect(businessDayOf(jst('2025-03-30T23:59:59'), JAPAN_BUSINESS_DAY)).toBe('2025-03-30');
    expect(businessDayOf(jst('2025-03-31T00:00:00'), JAPAN_BUSINESS_DAY)).toBe('2025-03-31');
    expect(businessDayOf(Date.parse('2025-03-30T15:00:00Z'), JAPAN_BUSINESS_DAY)).toBe('2025-03-31');
    const fourAm = { ...JAPAN_BUSINESS_DAY, cutoffHour: 4 };
    expect(businessDayOf(jst('2025-03-31T03:59:00'), fourAm)).toBe('2025-03-30');
    expect(businessDayBounds('2025-03-30', fourAm)).toEqual({
      opensAtMs: jst('2025-03-30T04:00:00'),
      closesAtMs: jst('2025-03-31T04:00:00'),
    });
  });
});

describe('closing a store day', () => {
  it('looks closer only at a store whose log reached a later business day than its earliest movement on no statement', () => {
    expect(
      closingMayBeDue({ earliestUnsettledMs: jst('2025-03-30T10:00:00'), reachedAtMs: jst('2025-03-30T23:59:59') }, JAPAN_BUSINESS_DAY),
    ).toBe(false);
    expect(
      closingMayBeDue({ earliestUnsettledMs: jst('2025-03-30T10:00:00'), reachedAtMs: jst('2025-03-31T00:00:00') }, JAPAN_BUSINESS_DAY),
    ).toBe(true);
  });

  it('stays open while the store has not replicated past the cut-off', () => {
    spec
      .given([pay('2025-03-30T10:00:00', 500), other('2025-03-30T23:59:00')])
      .when(close)
      .then([]);
  });

  it("closes once an event of the store from after the cut-off is at head office, with the day's pays", () => {
    const a = pay('2025-03-30T10:00:00', 500);
    const b = pay('2025-03-30T18:30:00', 1_200);
    const next = pay('2025-03-31T00:01:00', 300);
    const closed = statement('2025-03-30', {
      coversToStoreSeq: next.storeSeq,
      paysCount: 2,
      paysTotal: 1_700,
      owed: 1_700,
      storeReachedAtMs: next.occurredAtMs,
    });
    const state = spec.given([a, b, next]).when(close).then([closed.event]);
    // The next day's pay stays for the next day's statement.
    expect(state.unsettled).toEqual([next.entry]);
  });

  it('closes each day with pays in order, skipping empty ones, and never a day twice', () => {
    const a = pay('2025-03-29T12:00:00', 100);
    const b = pay('2025-03-31T12:00:00', 200);
    const past = other('2025-04-01T00:00:00');
    const first = statement('2025-03-29', {
      coversToStoreSeq: past.storeSeq,
      paysCount: 1,
      paysTotal: 100,
      owed: 100,
      storeReachedAtMs: past.occurredAtMs,
    });
    const second = statement('2025-03-31', {
      coversToStoreSeq: past.storeSeq,
      paysCount: 1,
      paysTotal: 200,
      owed: 200,
      storeReachedAtMs: past.occurredAtMs,
    });
    const state = spec.given([a, b, past]).when(close).then([first.event, second.event]);
    expect(state).toMatchObject({ unsettled: [], lastClosed: { businessDay: '2025-03-31', closesAtMs: day31.closesAtMs } });
    spec.given([a, b, past, first.fact, second.fact]).when(close).then([]);
  });

  it('books a pay for a closed day on the next statement as a late entry, and leaves the closed one alone', () => {
    const a = pay('2025-03-30T10:00:00', 500);
    const next = pay('2025-03-31T00:05:00', 300);
    const first = statement('2025-03-30', {
      coversToStoreSeq: next.storeSeq,
      paysCount: 1,
      paysTotal: 500,
      owed: 500,
      storeReachedAtMs: next.occurredAtMs,
    });
    // The store's clock was set back: a pay stamped 23:59 on the 30th arrives after the 30th closed.
    const late = pay('2025-03-30T23:59:00', 700);
    spec.given([a, next, first.fact, late]).when(close).then([]);
    const after = pay('2025-04-01T00:02:00', 50);
    const second = statement('2025-03-31', {
      coversToStoreSeq: after.storeSeq,
      paysCount: 1,
      paysTotal: 300,
      lateEntries: [late.entry],
      owed: 1_000,
      storeReachedAtMs: after.occurredAtMs,
    });
    spec.given([a, next, first.fact, late, after]).when(close).then([second.event]);
  });

  it('gives late entries a statement of their own when the store passed another cut-off without pays', () => {
    const a = pay('2025-03-30T10:00:00', 500);
    const next = other('2025-03-31T00:05:00');
    const first = statement('2025-03-30', {
      coversToStoreSeq: next.storeSeq,
      paysCount: 1,
      paysTotal: 500,
      owed: 500,
      storeReachedAtMs: next.occurredAtMs,
    });
    const late = pay('2025-03-30T23:58:00', 40);
    const past = other('2025-04-01T09:00:00');
    const second = statement('2025-03-31', {
      coversToStoreSeq: past.storeSeq,
      lateEntries: [late.entry],
      owed: 40,
      storeReachedAtMs: past.occurredAtMs,
    });
    spec.given([a, next, first.fact, late, past]).when(close).then([second.event]);
  });
});
