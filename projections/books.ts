// Head office's books: every purse movement the chip MACed, once per (card, counter), with when it
// happened at the store and when head office learnt of it (the chain head stored after it); how far
// each store's log has reached; and the stores' settlement statements (StoreDayClosed) with the
// movements each one booked. The float, the card statements and store clearing read from here
// (books-reader.ts); the rules are the domain's (domain/books.ts, domain/store-clearing.ts).
import type Database from 'better-sqlite3';
import type { IssuerMasterKeys } from '../card/index.js';
import { HQ_ORIGIN } from '../contracts/index.js';
import {
  MOVEMENT_RULES,
  bookedMovementOf,
  capturedLostCardOf,
  coveredBy,
  reachAfter,
  replacementFloatMoveOf,
  statementTotals,
  type BookedMovement,
  type ClearingEntry,
} from '../domain/index.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream, type HostEvent } from '../eventstore/index.js';
import { cardMacValid } from './card-mac.js';
import type { Projection } from './projection.js';
import { prepared } from './statements.js';

const BOOKS_TABLES = [
  'book_movements',
  'book_replacement_moves',
  'book_lost_captures',
  'book_stores',
  'book_statements',
  'book_statement_late',
] as const;

const BOOKS_SCHEMA = `
CREATE TABLE IF NOT EXISTS book_movements (
  card_id TEXT NOT NULL,
  card_counter INTEGER NOT NULL,
  kind TEXT NOT NULL,
  amount INTEGER NOT NULL,
  -- The movement's effect on the float: +amount or -amount.
  float_effect INTEGER NOT NULL,
  balance_after INTEGER NOT NULL,
  -- The store whose log holds the movement, and where.
  store_id TEXT NOT NULL,
  store_seq INTEGER NOT NULL,
  terminal_id TEXT NOT NULL,
  card_mac BLOB NOT NULL,
  event_id TEXT NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  -- When head office learnt of it: the receipt time of the chain head stored after it (NULL until then).
  known_at_ms INTEGER,
  -- "pay" or "refund" for movements on the store's statement, else NULL.
  clearing TEXT,
  -- The business day of the statement that booked it.
  statement_day TEXT,
  PRIMARY KEY (card_id, card_counter)
);
CREATE INDEX IF NOT EXISTS book_movements_by_occurrence ON book_movements (occurred_at_ms);
CREATE INDEX IF NOT EXISTS book_movements_by_knowledge ON book_movements (known_at_ms);
CREATE INDEX IF NOT EXISTS book_movements_unknown ON book_movements (store_id, store_seq) WHERE known_at_ms IS NULL;
CREATE INDEX IF NOT EXISTS book_movements_unsettled ON book_movements (store_id, store_seq) WHERE clearing IS NOT NULL AND statement_day IS NULL;
-- Lost cards' balances moved out of the float to the replacement account (and corrections), by
-- head office: known when made.
CREATE TABLE IF NOT EXISTS book_replacement_moves (
  event_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  float_effect INTEGER NOT NULL,
  occurred_at_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS book_replacement_moves_by_occurrence ON book_replacement_moves (occurred_at_ms);
-- Cards head office consented to capture as lost: their unload counts nothing on the float.
CREATE TABLE IF NOT EXISTS book_lost_captures (card_id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS book_stores (
  store_id TEXT PRIMARY KEY,
  name TEXT,
  reached_seq INTEGER NOT NULL DEFAULT 0,
  reached_at_ms INTEGER,
  last_closed_day TEXT,
  last_closes_at_ms INTEGER,
  -- The earliest occurred-at of the store's movements on no statement yet, so that day closing
  -- looks only at stores that may have a day to close.
  earliest_unsettled_ms INTEGER
);
CREATE TABLE IF NOT EXISTS book_statements (
  store_id TEXT NOT NULL,
  business_day TEXT NOT NULL,
  opens_at_ms INTEGER NOT NULL,
  closes_at_ms INTEGER NOT NULL,
  closed_at_ms INTEGER NOT NULL,
  covers_to_store_seq INTEGER NOT NULL,
  store_reached_at_ms INTEGER NOT NULL,
  pays_count INTEGER NOT NULL,
  pays_total INTEGER NOT NULL,
  refunds_count INTEGER NOT NULL,
  refunds_total INTEGER NOT NULL,
  owed INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  -- Set when the movements the statement covers do not add up to its totals.
  discrepancy TEXT,
  PRIMARY KEY (store_id, business_day)
);
CREATE TABLE IF NOT EXISTS book_statement_late (
  store_id TEXT NOT NULL,
  business_day TEXT NOT NULL,
  event_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  card_id TEXT NOT NULL,
  card_counter INTEGER NOT NULL,
  amount INTEGER NOT NULL,
  occurred_at_ms INTEGER NOT NULL,
  -- The business day the movement belongs to, closed before it arrived.
  original_day TEXT NOT NULL,
  PRIMARY KEY (store_id, business_day, event_id)
);
`;

/** The books as a projection for the runner (it checks card MACs, so it needs the issuer keys). */
export function booksProjection(options: { issuerKeys: IssuerMasterKeys }): Projection {
  return {
    name: 'books',
    version: 2,
    schema: BOOKS_SCHEMA,
    tables: BOOKS_TABLES,
    apply(db, event) {
      if (event.type === CHAIN_HEAD_RECORD_TYPE) return learnMovements(db, event);
      const origin = event.envelope.storeId;
      if (origin === HQ_ORIGIN) {
        if (event.type === 'StoreRegistered') {
          prepared(
            db,
            'INSERT INTO book_stores (store_id, name) VALUES (?, ?) ON CONFLICT (store_id) DO UPDATE SET name = excluded.name',
          ).run(event.data.storeId, event.data.name);
        } else if (event.type === 'StoreDayClosed') bookStatement(db, event);
        else bookReplacement(db, event);
        return;
      }
      reach(db, origin, event.envelope.storeSeq, event.envelope.occurredAtMs);
      const movement = bookedMovementOf(event);
      // A movement whose MAC fails is no movement of value (the purse ledger raises the alert).
      if (!movement || !cardMacValid(options.issuerKeys, movement.chipOperation, movement)) return;
      const rule = MOVEMENT_RULES[movement.kind];
      // The first movement at a card counter is the chip's; a repeat (recorded again when found on
      // the chip, or replayed) is not booked twice.
      const booked = prepared(
        db,
        `INSERT OR IGNORE INTO book_movements (card_id, card_counter, kind, amount, float_effect, balance_after, store_id, store_seq, terminal_id, card_mac,
           event_id, occurred_at_ms, clearing)
         VALUES (@cardId, @cardCounter, @kind, @amount, @floatEffect, @newBalance, @storeId, @storeSeq, @terminalId, @cardMac, @eventId, @occurredAtMs, @clearing)`,
      ).run({
        ...movement,
        cardMac: Buffer.from(movement.cardMac),
        floatEffect: capturedUnload(db, movement) ? 0 : rule.floatSign * movement.amount,
        storeId: origin,
        storeSeq: event.envelope.storeSeq,
        eventId: event.envelope.eventId,
        occurredAtMs: event.envelope.occurredAtMs,
        clearing: rule.clearing ?? null,
      });
      if (booked.changes > 0 && rule.clearing) {
        prepared(
          db,
          'UPDATE book_stores SET earliest_unsettled_ms = MIN(COALESCE(earliest_unsettled_ms, @at), @at) WHERE store_id = @storeId',
        ).run({
          storeId: origin,
          at: event.envelope.occurredAtMs,
        });
      }
    },
  };
}

/** A lost card's balance moved to the replacement account, or the card captured at a store. */
function bookReplacement(db: Database.Database, event: Exclude<HostEvent, { type: typeof CHAIN_HEAD_RECORD_TYPE }>): void {
  const move = replacementFloatMoveOf(event);
  if (move) {
    prepared(db, 'INSERT OR IGNORE INTO book_replacement_moves (event_id, card_id, float_effect, occurred_at_ms) VALUES (?, ?, ?, ?)').run(
      event.envelope.eventId,
      move.cardId,
      move.floatEffect,
      event.envelope.occurredAtMs,
    );
  }
  const captured = capturedLostCardOf(event);
  if (captured) prepared(db, 'INSERT OR IGNORE INTO book_lost_captures (card_id) VALUES (?)').run(captured);
}

function capturedUnload(db: Database.Database, movement: BookedMovement): boolean {
  return (
    movement.kind === 'unload' && prepared(db, 'SELECT 1 FROM book_lost_captures WHERE card_id = ?').get(movement.cardId) !== undefined
  );
}

/** A chain head stored: head office now knows every movement of that origin up to its sequence. */
function learnMovements(db: Database.Database, event: Extract<HostEvent, { type: typeof CHAIN_HEAD_RECORD_TYPE }>): void {
  const origin = originOfStream(event.streamId);
  if (origin === undefined || origin === HQ_ORIGIN) return;
  prepared(db, 'UPDATE book_movements SET known_at_ms = ? WHERE store_id = ? AND known_at_ms IS NULL AND store_seq <= ?').run(
    event.data.receivedAtMs,
    origin,
    event.data.head?.storeSeq ?? 0,
  );
}

function reach(db: Database.Database, storeId: string, storeSeq: number, occurredAtMs: number): void {
  const row = prepared(db, 'SELECT reached_seq, reached_at_ms FROM book_stores WHERE store_id = ?').get(storeId) as
    | { reached_seq: number; reached_at_ms: number | null }
    | undefined;
  const reached = reachAfter({ reachedSeq: row?.reached_seq ?? 0, reachedAtMs: row?.reached_at_ms ?? undefined }, storeSeq, occurredAtMs);
  prepared(
    db,
    `INSERT INTO book_stores (store_id, reached_seq, reached_at_ms) VALUES (@storeId, @reachedSeq, @reachedAtMs)
     ON CONFLICT (store_id) DO UPDATE SET reached_seq = excluded.reached_seq, reached_at_ms = excluded.reached_at_ms`,
  ).run({ storeId, ...reached });
}

interface UnsettledRow {
  event_id: string;
  store_seq: number;
  clearing: 'pay' | 'refund';
  card_id: string;
  card_counter: number;
  amount: number;
  occurred_at_ms: number;
}

const clearingEntryOf = (row: UnsettledRow): ClearingEntry => ({
  eventId: row.event_id,
  storeSeq: row.store_seq,
  side: row.clearing,
  cardId: row.card_id,
  cardCounter: row.card_counter,
  amount: row.amount,
  occurredAtMs: row.occurred_at_ms,
});

/** The store's pays and refunds on no statement yet, up to a sequence, oldest first. */
export function unsettledEntries(db: Database.Database, storeId: string, upToSeq: number): ClearingEntry[] {
  const rows = prepared(
    db,
    `SELECT event_id, store_seq, clearing, card_id, card_counter, amount, occurred_at_ms FROM book_movements
     WHERE store_id = ? AND clearing IS NOT NULL AND statement_day IS NULL AND store_seq <= ? ORDER BY store_seq`,
  ).all(storeId, upToSeq) as UnsettledRow[];
  return rows.map(clearingEntryOf);
}

/**
 * Books a statement as head office made it, and marks the movements it covers (the same rule the
 * decision used); a statement whose movements do not add up to its totals is kept with a note.
 */
function bookStatement(db: Database.Database, event: Extract<HostEvent, { type: 'StoreDayClosed' }>): void {
  const closed = event.data;
  const inserted = prepared(
    db,
    `INSERT OR IGNORE INTO book_statements (store_id, business_day, opens_at_ms, closes_at_ms, closed_at_ms, covers_to_store_seq, store_reached_at_ms,
       pays_count, pays_total, refunds_count, refunds_total, owed, event_id)
     VALUES (@storeId, @businessDay, @opensAtMs, @closesAtMs, @closedAtMs, @coversToStoreSeq, @storeReachedAtMs, @paysCount, @paysTotal, @refundsCount,
       @refundsTotal, @owed, @eventId)`,
  ).run({
    storeId: closed.storeId,
    businessDay: closed.businessDay,
    opensAtMs: closed.opensAtMs,
    closesAtMs: closed.closesAtMs,
    closedAtMs: event.envelope.occurredAtMs,
    coversToStoreSeq: closed.coversToStoreSeq,
    storeReachedAtMs: closed.storeReachedAtMs,
    paysCount: closed.paysCount,
    paysTotal: closed.paysTotal,
    refundsCount: closed.refundsCount,
    refundsTotal: closed.refundsTotal,
    owed: closed.owed,
    eventId: event.envelope.eventId,
  });
  // A second statement for the same day is not booked, and books nothing.
  if (inserted.changes === 0) return;
  const covered = unsettledEntries(db, closed.storeId, closed.coversToStoreSeq).filter((entry) => coveredBy(entry, closed));
  const mark = prepared(db, 'UPDATE book_movements SET statement_day = ? WHERE card_id = ? AND card_counter = ?');
  for (const entry of covered) mark.run(closed.businessDay, entry.cardId, entry.cardCounter);
  const insertLate = prepared(
    db,
    `INSERT OR IGNORE INTO book_statement_late (store_id, business_day, event_id, kind, card_id, card_counter, amount, occurred_at_ms, original_day)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const late of closed.lateEntries) {
    insertLate.run(
      closed.storeId,
      closed.businessDay,
      late.eventId,
      late.kind,
      late.cardId,
      late.cardCounter,
      late.amount,
      late.occurredAtMs,
      late.businessDay,
    );
  }
  const totals = statementTotals(covered, closed);
  const stated = [closed.paysCount, closed.paysTotal, closed.refundsCount, closed.refundsTotal, closed.lateEntries.length, closed.owed];
  const found = [totals.paysCount, totals.paysTotal, totals.refundsCount, totals.refundsTotal, totals.late.length, totals.owed];
  if (stated.some((value, i) => value !== found[i])) {
    prepared(db, 'UPDATE book_statements SET discrepancy = ? WHERE store_id = ? AND business_day = ?').run(
      `the statement says ${stated.join('/')} (pays count/total, refunds count/total, late entries, owed); the movements it covers give ${found.join('/')}`,
      closed.storeId,
      closed.businessDay,
    );
  }
  prepared(
    db,
    `UPDATE book_stores SET last_closed_day = @businessDay, last_closes_at_ms = @closesAtMs,
       earliest_unsettled_ms = (SELECT MIN(occurred_at_ms) FROM book_movements WHERE store_id = @storeId AND clearing IS NOT NULL AND statement_day IS NULL)
     WHERE store_id = @storeId`,
  ).run({ businessDay: closed.businessDay, closesAtMs: closed.closesAtMs, storeId: closed.storeId });
}
