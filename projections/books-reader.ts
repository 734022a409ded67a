// Reads of head office's books for the API, the reports and head office's day closing: store
// statements, the float as of an instant (by when movements happened and by when head office knew
// them), and a card's movements. Times ISO 8601 UTC, money in yen.
import type Database from 'better-sqlite3';
import { terminalIdBytes, toHex } from '../card/index.js';
import { statementTotals, type MovementKind, type StoreClearing } from '../domain/index.js';
import { unsettledEntries } from './books.js';
import { prepared } from './statements.js';

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
const yen = (amount: number) => `¥${amount.toLocaleString('en-US')}`;

export interface LateEntryView {
  kind: string;
  eventId: string;
  cardId: string;
  cardCounter: number;
  amount: number;
  occurredAt: string;
  /** The closed business day it belongs to. */
  businessDay: string;
  note: string;
}

export interface StatementView {
  storeId: string;
  businessDay: string;
  opensAt: string;
  closesAt: string;
  /** When head office closed the day. */
  closedAt: string;
  /** The store's log had reached this instant when the day closed. */
  storeReachedAt: string;
  coversToStoreSeq: number;
  pays: { count: number; total: number };
  refunds: { count: number; total: number };
  /** Movements of earlier, closed days that reached head office after their day closed. */
  late: LateEntryView[];
  /** What head office owes the store for this statement (negative: what the store owes). */
  owed: number;
  /** The StoreDayClosed event that is the statement. */
  eventId: string;
  notes: string[];
}

export interface OpenDayView {
  /** Movements since the last statement's close (or since the store began). */
  since: string | null;
  storeReachedAt: string | null;
  pays: { count: number; total: number };
  refunds: { count: number; total: number };
  /** Movements of closed days waiting for the next statement. */
  lateWaiting: number;
  /** What the next statements will owe for what head office holds now. */
  owedSoFar: number;
}

export interface FloatFigure {
  /** Value held on cards: loads − pays + refunds − unloads. */
  total: number;
  /** Cards holding value. */
  cards: number;
}

export interface FloatOfCard {
  cardId: string;
  byEventTime: number;
  byKnowledgeTime: number;
}

export interface CardStatementEntry {
  cardCounter: number;
  kind: MovementKind;
  amount: number;
  balanceAfter: number;
  /** When it happened at the store. */
  occurredAt: string;
  /** When head office learnt of it. */
  knownAt: string | null;
  storeId: string;
  /** The POS terminal as the store names it, and the 8-byte id the chip logged for it. */
  terminalId: string;
  chipTerminalId: string;
  /** The chip's MAC over the movement (hex): the proof that the card made it. */
  cardMac: string;
  eventId: string;
}

interface StatementRow {
  store_id: string;
  business_day: string;
  opens_at_ms: number;
  closes_at_ms: number;
  closed_at_ms: number;
  covers_to_store_seq: number;
  store_reached_at_ms: number;
  pays_count: number;
  pays_total: number;
  refunds_count: number;
  refunds_total: number;
  owed: number;
  event_id: string;
  discrepancy: string | null;
}

interface LateRow {
  business_day: string;
  event_id: string;
  kind: string;
  card_id: string;
  card_counter: number;
  amount: number;
  occurred_at_ms: number;
  original_day: string;
}

interface StoreRow {
  store_id: string;
  reached_seq: number;
  reached_at_ms: number | null;
  last_closed_day: string | null;
  last_closes_at_ms: number | null;
}

function lateView(row: LateRow): LateEntryView {
  return {
    kind: row.kind,
    eventId: row.event_id,
    cardId: row.card_id,
    cardCounter: row.card_counter,
    amount: row.amount,
    occurredAt: iso(row.occurred_at_ms),
    businessDay: row.original_day,
    note:
      `late ${row.kind} of ${yen(row.amount)} (card ${row.card_id}, counter ${row.card_counter}) made ${iso(row.occurred_at_ms)} on business day ` +
      `${row.original_day}, which was closed before it reached head office: booked on this statement`,
  };
}

/** What counts on the float: the chips' movements, and lost cards' balances moved to their replacements (known when made). */
const FLOAT_ENTRIES = `(SELECT card_id, float_effect, occurred_at_ms, known_at_ms FROM book_movements
  UNION ALL SELECT card_id, float_effect, occurred_at_ms, occurred_at_ms AS known_at_ms FROM book_replacement_moves)`;

export class BooksReader {
  constructor(private readonly db: Database.Database) {}

  /** Head office has heard of the store (registered, or events from it). */
  knowsStore(storeId: string): boolean {
    return prepared(this.db, 'SELECT 1 FROM book_stores WHERE store_id = ?').get(storeId) !== undefined;
  }

  /** The store's statements, oldest first, optionally for business days from/to (YYYY-MM-DD, inclusive). */
  statements(storeId: string, range: { from?: string; to?: string } = {}): StatementView[] {
    const rows = prepared(
      this.db,
      `SELECT * FROM book_statements WHERE store_id = @storeId AND (@from IS NULL OR business_day >= @from) AND (@to IS NULL OR business_day <= @to)
       ORDER BY business_day`,
    ).all({ storeId, from: range.from ?? null, to: range.to ?? null }) as StatementRow[];
    const lateOf = prepared(
      this.db,
      'SELECT * FROM book_statement_late WHERE store_id = ? AND business_day = ? ORDER BY occurred_at_ms, event_id',
    );
    return rows.map((row) => {
      const late = (lateOf.all(storeId, row.business_day) as LateRow[]).map(lateView);
      return {
        storeId: row.store_id,
        businessDay: row.business_day,
        opensAt: iso(row.opens_at_ms),
        closesAt: iso(row.closes_at_ms),
        closedAt: iso(row.closed_at_ms),
        storeReachedAt: iso(row.store_reached_at_ms),
        coversToStoreSeq: row.covers_to_store_seq,
        pays: { count: row.pays_count, total: row.pays_total },
        refunds: { count: row.refunds_count, total: row.refunds_total },
        late,
        owed: row.owed,
        eventId: row.event_id,
        notes: [...late.map((entry) => entry.note), ...(row.discrepancy ? [`discrepancy: ${row.discrepancy}`] : [])],
      };
    });
  }

  private storeRow(storeId: string): StoreRow | undefined {
    return prepared(this.db, 'SELECT * FROM book_stores WHERE store_id = ?').get(storeId) as StoreRow | undefined;
  }

  /** What head office holds of the store's clearing: the state its day closing decides on. */
  storeClearing(storeId: string): StoreClearing {
    const row = this.storeRow(storeId);
    const reachedSeq = row?.reached_seq ?? 0;
    return {
      storeId,
      reachedSeq,
      reachedAtMs: row?.reached_at_ms ?? undefined,
      lastClosed:
        row?.last_closed_day && row.last_closes_at_ms !== null
          ? { businessDay: row.last_closed_day, closesAtMs: row.last_closes_at_ms }
          : undefined,
      unsettled: unsettledEntries(this.db, storeId, reachedSeq),
    };
  }

  /** Stores with pays or refunds on no statement yet: how far each store's log has reached, and its earliest such movement. */
  storesWithUnsettled(): Array<{ storeId: string; reachedAtMs: number; earliestUnsettledMs: number }> {
    const rows = prepared(
      this.db,
      'SELECT store_id, reached_at_ms, earliest_unsettled_ms FROM book_stores WHERE earliest_unsettled_ms IS NOT NULL',
    ).all() as Array<{
      store_id: string;
      reached_at_ms: number;
      earliest_unsettled_ms: number;
    }>;
    return rows.map((row) => ({ storeId: row.store_id, reachedAtMs: row.reached_at_ms, earliestUnsettledMs: row.earliest_unsettled_ms }));
  }

  /** The store's movements since its last statement, as the next statements will count them. */
  openDay(storeId: string): OpenDayView {
    const clearing = this.storeClearing(storeId);
    const since = clearing.lastClosed?.closesAtMs;
    const totals = statementTotals(clearing.unsettled, {
      coversToStoreSeq: clearing.reachedSeq,
      opensAtMs: since ?? Number.NEGATIVE_INFINITY,
      closesAtMs: Number.POSITIVE_INFINITY,
    });
    return {
      since: since === undefined ? null : iso(since),
      storeReachedAt: clearing.reachedAtMs === undefined ? null : iso(clearing.reachedAtMs),
      pays: { count: totals.paysCount, total: totals.paysTotal },
      refunds: { count: totals.refundsCount, total: totals.refundsTotal },
      lateWaiting: totals.late.length,
      owedSoFar: totals.owed,
    };
  }

  /** The float as of an instant (inclusive): by when each movement happened, and by when head office learnt of it. */
  float(asOfMs: number): { byEventTime: FloatFigure; byKnowledgeTime: FloatFigure } {
    return { byEventTime: this.floatBy('occurred_at_ms', asOfMs), byKnowledgeTime: this.floatBy('known_at_ms', asOfMs) };
  }

  private floatBy(time: 'occurred_at_ms' | 'known_at_ms', asOfMs: number): FloatFigure {
    const row = prepared(
      this.db,
      `SELECT COALESCE(SUM(value), 0) AS total, COUNT(*) FILTER (WHERE value <> 0) AS cards
       FROM (SELECT SUM(float_effect) AS value FROM ${FLOAT_ENTRIES} WHERE ${time} <= ? GROUP BY card_id)`,
    ).get(asOfMs) as { total: number; cards: number };
    return { total: row.total, cards: row.cards };
  }

  /** Per card, both figures as of the instant, by card id after `after`. */
  floatOfCards(asOfMs: number, page: { cardId?: string; after?: string; limit?: number } = {}): FloatOfCard[] {
    const rows = prepared(
      this.db,
      `SELECT card_id,
         COALESCE(SUM(CASE WHEN occurred_at_ms <= @asOf THEN float_effect END), 0) AS by_event,
         COALESCE(SUM(CASE WHEN known_at_ms <= @asOf THEN float_effect END), 0) AS by_knowledge
       FROM ${FLOAT_ENTRIES} WHERE (@cardId IS NULL OR card_id = @cardId) AND card_id > @after
       GROUP BY card_id ORDER BY card_id LIMIT @limit`,
    ).all({ asOf: asOfMs, cardId: page.cardId ?? null, after: page.after ?? '', limit: page.limit ?? 100 }) as {
      card_id: string;
      by_event: number;
      by_knowledge: number;
    }[];
    return rows.map((row) => ({ cardId: row.card_id, byEventTime: row.by_event, byKnowledgeTime: row.by_knowledge }));
  }

  /** Stores whose log head office has not yet seen pass the instant: the figure by event time may still change for them. */
  storesNotYetPast(asOfMs: number): string[] {
    const rows = prepared(
      this.db,
      'SELECT store_id FROM book_stores WHERE reached_at_ms IS NULL OR reached_at_ms <= ? ORDER BY store_id',
    ).all(asOfMs) as {
      store_id: string;
    }[];
    return rows.map((row) => row.store_id);
  }

  /** A card's movements, by counter, each with the chip's MAC that proves it. */
  cardStatement(cardId: string): CardStatementEntry[] {
    const rows = prepared(this.db, 'SELECT * FROM book_movements WHERE card_id = ? ORDER BY card_counter').all(cardId) as Array<{
      card_counter: number;
      kind: MovementKind;
      amount: number;
      balance_after: number;
      occurred_at_ms: number;
      known_at_ms: number | null;
      store_id: string;
      terminal_id: string;
      card_mac: Buffer;
      event_id: string;
    }>;
    return rows.map((row) => ({
      cardCounter: row.card_counter,
      kind: row.kind,
      amount: row.amount,
      balanceAfter: row.balance_after,
      occurredAt: iso(row.occurred_at_ms),
      knownAt: isoOrNull(row.known_at_ms),
      storeId: row.store_id,
      terminalId: row.terminal_id,
      chipTerminalId: toHex(terminalIdBytes(row.terminal_id)),
      cardMac: row.card_mac.toString('hex'),
      eventId: row.event_id,
    }));
  }
}
