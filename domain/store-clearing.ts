// Store clearing: head office owes each store, per business day, for the pays it took less the
// refunds it gave. A day closes once the store's replicated log has passed the day's cut-off (the
// store's log is in order, so everything it recorded before then is at head office); a movement
// that still turns up for a closed day (a store clock set back, say) is booked on the store's next
// statement as a late entry, and a closed statement never changes.
import type { EventData } from '../contracts/index.js';
import type { ClearingSide } from './books.js';

/** Business days in a time zone with a fixed offset (Japan has no daylight saving) and a cut-off hour. */
export interface BusinessDayRule {
  /** Local time = UTC + this; Japan: +540 (JST). */
  utcOffsetMinutes: number;
  /** Local hour (0-23) at which one business day ends and the next begins. */
  cutoffHour: number;
}

/** Business day = the JST date, cut off at 00:00 JST. */
export const JAPAN_BUSINESS_DAY: BusinessDayRule = { utcOffsetMinutes: 540, cutoffHour: 0 };

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/** YYYY-MM-DD of the business day an instant belongs to. */
export function businessDayOf(atMs: number, rule: BusinessDayRule): string {
  return new Date(atMs + rule.utcOffsetMinutes * 60_000 - rule.cutoffHour * HOUR_MS).toISOString().slice(0, 10);
}

/** The business day runs from opensAtMs (inclusive) to closesAtMs (exclusive). */
export function businessDayBounds(day: string, rule: BusinessDayRule): { opensAtMs: number; closesAtMs: number } {
  const opensAtMs = Date.parse(`${day}T00:00:00Z`) - rule.utcOffsetMinutes * 60_000 + rule.cutoffHour * HOUR_MS;
  if (Number.isNaN(opensAtMs)) throw new Error(`not a date: "${day}" (expected YYYY-MM-DD)`);
  return { opensAtMs, closesAtMs: opensAtMs + DAY_MS };
}

/** The day before a YYYY-MM-DD day. */
function previousDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) - DAY_MS).toISOString().slice(0, 10);
}

/** A pay or refund of a store, not yet on a statement. */
export interface ClearingEntry {
  eventId: string;
  storeSeq: number;
  side: ClearingSide;
  cardId: string;
  cardCounter: number;
  amount: number;
  occurredAtMs: number;
}

/** What head office knows of one store's clearing. */
export interface StoreClearing {
  storeId: string;
  /** Highest sequence of the store's events at head office. */
  reachedSeq: number;
  /** Latest occurred-at among them: the store's log has passed this instant. */
  reachedAtMs: number | undefined;
  /** The store's last statement. */
  lastClosed: { businessDay: string; closesAtMs: number } | undefined;
  /** Its pays and refunds on no statement yet. */
  unsettled: ClearingEntry[];
}

const newStoreClearing = (storeId: string): StoreClearing => ({
  storeId,
  reachedSeq: 0,
  reachedAtMs: undefined,
  lastClosed: undefined,
  unsettled: [],
});

/** The part of a StoreDayClosed that says which movements it covers. */
export interface ClosingScope {
  coversToStoreSeq: number;
  opensAtMs: number;
  closesAtMs: number;
}

/** A statement takes every unsettled movement of the store up to its sequence that happened before the day's close. */
export function coveredBy(entry: Pick<ClearingEntry, 'storeSeq' | 'occurredAtMs'>, closing: ClosingScope): boolean {
  return entry.storeSeq <= closing.coversToStoreSeq && entry.occurredAtMs < closing.closesAtMs;
}

/** A covered movement from before the day it is booked on belongs to an earlier day, closed already. */
function isLateOn(entry: Pick<ClearingEntry, 'occurredAtMs'>, closing: ClosingScope): boolean {
  return entry.occurredAtMs < closing.opensAtMs;
}

/** A store event as it reached head office (with its pay or refund, if it is one), or a statement head office made. */
export type ClearingFact =
  | { type: 'store_event'; storeSeq: number; occurredAtMs: number; entry?: ClearingEntry }
  | { type: 'day_closed'; closed: ClosingScope & { businessDay: string } };

/** How far head office has the store's log: its highest sequence and the latest instant it has passed. */
export function reachAfter(
  state: Pick<StoreClearing, 'reachedSeq' | 'reachedAtMs'>,
  storeSeq: number,
  occurredAtMs: number,
): Pick<StoreClearing, 'reachedSeq' | 'reachedAtMs'> {
  return { reachedSeq: Math.max(state.reachedSeq, storeSeq), reachedAtMs: Math.max(state.reachedAtMs ?? occurredAtMs, occurredAtMs) };
}

function evolveStoreClearing(state: StoreClearing, fact: ClearingFact): StoreClearing {
  if (fact.type === 'store_event') {
    return {
      ...state,
      ...reachAfter(state, fact.storeSeq, fact.occurredAtMs),
      unsettled: fact.entry ? [...state.unsettled, fact.entry] : state.unsettled,
    };
  }
  return {
    ...state,
    lastClosed: { businessDay: fact.closed.businessDay, closesAtMs: fact.closed.closesAtMs },
    unsettled: state.unsettled.filter((entry) => !coveredBy(entry, fact.closed)),
  };
}

/** The totals of a statement over the movements it covers. */
export function statementTotals(entries: readonly ClearingEntry[], closing: ClosingScope) {
  const totals = { paysCount: 0, paysTotal: 0, refundsCount: 0, refundsTotal: 0, late: [] as ClearingEntry[], owed: 0 };
  for (const entry of entries) {
    totals.owed += entry.side === 'pay' ? entry.amount : -entry.amount;
    if (isLateOn(entry, closing)) totals.late.push(entry);
    else if (entry.side === 'pay') {
      totals.paysCount += 1;
      totals.paysTotal += entry.amount;
    } else {
      totals.refundsCount += 1;
      totals.refundsTotal += entry.amount;
    }
  }
  return totals;
}

/**
 * Whether a store may have a day to close, from two figures head office keeps per store: its log
 * has reached a later business day than its earliest movement on no statement. Cheap, so that the
 * day closing of many stores decides in full (decideDayClosings) only for these.
 */
export function closingMayBeDue(store: { reachedAtMs: number; earliestUnsettledMs: number }, rule: BusinessDayRule): boolean {
  return businessDayOf(store.reachedAtMs, rule) > businessDayOf(store.earliestUnsettledMs, rule);
}

export interface CloseDays {
  kind: 'close_days';
  rule: BusinessDayRule;
}

/** A statement as decided. */
export type StoreDayClosedEvent = { type: 'StoreDayClosed'; data: EventData<'StoreDayClosed'> };

/**
 * The statements a store is due, oldest first: one per business day that holds movements and whose
 * cut-off the store's log has passed. Movements of days already closed go on the next statement as
 * late entries; when only such movements wait, the last day the store has passed gets a statement
 * of its own for them.
 */
export function decideDayClosings(command: CloseDays, state: StoreClearing): StoreDayClosedEvent[] {
  if (state.reachedAtMs === undefined) return [];
  const lastClosable = previousDay(businessDayOf(state.reachedAtMs, command.rule));
  const frontier = state.lastClosed?.closesAtMs ?? Number.NEGATIVE_INFINITY;
  const waiting = state.unsettled.filter((entry) => entry.storeSeq <= state.reachedSeq);
  const onTimeDays = new Set(
    waiting.filter((entry) => entry.occurredAtMs >= frontier).map((entry) => businessDayOf(entry.occurredAtMs, command.rule)),
  );
  let days = [...onTimeDays].filter((day) => day <= lastClosable).sort();
  const lateWaiting = waiting.some((entry) => entry.occurredAtMs < frontier);
  if (days.length === 0 && lateWaiting && state.lastClosed && lastClosable > state.lastClosed.businessDay) days = [lastClosable];

  const events: StoreDayClosedEvent[] = [];
  let left = waiting;
  for (const businessDay of days) {
    const closing: ClosingScope = { coversToStoreSeq: state.reachedSeq, ...businessDayBounds(businessDay, command.rule) };
    const covered = left.filter((entry) => coveredBy(entry, closing));
    left = left.filter((entry) => !coveredBy(entry, closing));
    const totals = statementTotals(covered, closing);
    events.push({
      type: 'StoreDayClosed',
      data: {
        storeId: state.storeId,
        businessDay,
        ...closing,
        paysCount: totals.paysCount,
        paysTotal: totals.paysTotal,
        refundsCount: totals.refundsCount,
        refundsTotal: totals.refundsTotal,
        lateEntries: totals.late.map((entry) => ({
          eventId: entry.eventId,
          kind: entry.side,
          cardId: entry.cardId,
          cardCounter: entry.cardCounter,
          amount: entry.amount,
          occurredAtMs: entry.occurredAtMs,
          businessDay: businessDayOf(entry.occurredAtMs, command.rule),
        })),
        owed: totals.owed,
        storeReachedAtMs: state.reachedAtMs,
      },
    });
  }
  return events;
}

/** Store clearing as a decider over the facts head office holds of one store. */
export function storeClearingDecider(storeId: string) {
  return {
    initialState: () => newStoreClearing(storeId),
    evolve: evolveStoreClearing,
    decide: decideDayClosings,
  };
}
