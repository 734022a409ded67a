// Head office's purse ledger: per card the shadow balance, load and pay counts and totals, last use
// and the card counter seen; per bank account its balance; per load its track (load reconciliation,
// projections/load-tracking.ts); and alerts wherever a card's history diverges (domain
// applyMovement decides what counts as divergence, the same rules the auditor replays) or a load
// is stuck. Every card MAC is verified with the issuer master keys.
import type Database from 'better-sqlite3';
import type { IssuerMasterKeys } from '../card/index.js';
import type { EventEnvelope } from '../contracts/index.js';
import { anchoredLedger, applyMovement, bookedMovementOf, purseMovementOf, type CardLedger, type PurseMovement } from '../domain/index.js';
import type { Projection } from './projection.js';
import { CHAIN_HEAD_RECORD_TYPE, type HostEvent } from '../eventstore/index.js';
import { cardMacValid } from './card-mac.js';
import { prepared } from './statements.js';
import { debitFactsOf, LOAD_TRACKING_SCHEMA, trackLoads } from './load-tracking.js';
import type { PurseAlertView } from '../contracts/index.js';
import { insertAlert, openAlertCounts, resolveAlertWithNote, PURSE_ALERTS_SCHEMA, queryAlerts, type AlertFilter } from './purse-alerts.js';

const PURSE_LEDGER_TABLES = ['purse_cards', 'purse_loaded_authorisations', 'purse_loads', 'purse_accounts', 'purse_alerts'] as const;

const PURSE_LEDGER_SCHEMA = `
CREATE TABLE IF NOT EXISTS purse_cards (
  card_id TEXT PRIMARY KEY,
  balance INTEGER NOT NULL,
  counter INTEGER NOT NULL,
  loads INTEGER NOT NULL,
  loaded_total INTEGER NOT NULL,
  pays INTEGER NOT NULL,
  paid_total INTEGER NOT NULL,
  refunds INTEGER NOT NULL DEFAULT 0,
  refunded_total INTEGER NOT NULL DEFAULT 0,
  last_use_ms INTEGER,
  last_store_id TEXT,
  alerts INTEGER NOT NULL DEFAULT 0,
  -- JSON array of counters a gap skipped that have not arrived yet.
  missing_counters TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS purse_loaded_authorisations (
  authorization_id TEXT PRIMARY KEY,
  card_id TEXT NOT NULL,
  counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS purse_accounts (
  bank_id TEXT PRIMARY KEY,
  balance INTEGER NOT NULL
);
`;

interface CardRow {
  card_id: string;
  balance: number;
  counter: number;
  loads: number;
  loaded_total: number;
  pays: number;
  paid_total: number;
  refunds: number;
  refunded_total: number;
  last_use_ms: number | null;
  last_store_id: string | null;
  alerts: number;
  missing_counters: string;
}

export interface PurseLedgerOptions {
  issuerKeys: IssuerMasterKeys;
}

/** The purse ledger as a projection for the runner (it needs the issuer keys to check card MACs). */
export function purseLedgerProjection(options: PurseLedgerOptions): Projection {
  return {
    name: 'purse-ledger',
    version: 7,
    schema: PURSE_LEDGER_SCHEMA + LOAD_TRACKING_SCHEMA + PURSE_ALERTS_SCHEMA,
    tables: PURSE_LEDGER_TABLES,
    apply(db: Database.Database, event: HostEvent): void {
      const booked = event.type === CHAIN_HEAD_RECORD_TYPE ? undefined : bookedMovementOf(event);
      const macValid = booked !== undefined && cardMacValid(options.issuerKeys, booked.chipOperation, booked);
      trackLoads(db, event, macValid);
      switch (event.type) {
        case 'CardPrimaryIssued':
          prepared(
            db,
            'INSERT OR IGNORE INTO purse_cards (card_id, balance, counter, loads, loaded_total, pays, paid_total) VALUES (?, 0, 0, 0, 0, 0, 0)',
          ).run(event.data.cardId);
          break;
        case 'BankAccountOpened':
          prepared(db, 'INSERT OR REPLACE INTO purse_accounts (bank_id, balance) VALUES (?, ?)').run(event.data.bankId, event.data.balance);
          break;
        case 'BankAccountDebited':
        case 'BankAccountCredited':
        case 'LoadAuthorisationReversed':
          prepared(db, 'INSERT OR REPLACE INTO purse_accounts (bank_id, balance) VALUES (?, ?)').run(
            event.data.bankId,
            event.data.newBalance,
          );
          break;
        case 'PurseLoaded':
        case 'PursePaid':
        case 'PurseRefunded':
        case 'PurseUnloaded': {
          const movement = purseMovementOf(event, { atMs: event.envelope.occurredAtMs, storeId: event.envelope.storeId, macValid });
          applyToCard(db, movement, event.envelope);
          break;
        }
        case 'StoreClaimRefused':
          // Head office's refusal of what a store said of a chip: an alert that names the store.
          insertAlert(
            db,
            {
              cardId: event.data.cardId,
              kind: 'store_claim_refused',
              message: event.data.reason,
              ...(event.data.authorizationId ? { authorizationId: event.data.authorizationId } : {}),
            },
            event.envelope,
          );
          break;
        case 'CardReplacementAdjusted':
          insertAlert(db, { cardId: event.data.oldCardId, kind: 'replacement_adjusted', message: event.data.reason }, event.envelope);
          break;
        case 'AlertResolved':
          resolveAlertWithNote(db, {
            alertId: event.data.alertId,
            raisedByEventId: event.data.raisedByEventId,
            note: event.data.note,
            resolvedBy: event.data.resolvedBy,
            atMs: event.envelope.occurredAtMs,
          });
          break;
        default:
          break;
      }
    },
  };
}

function applyToCard(db: Database.Database, movement: PurseMovement, envelope: EventEnvelope): void {
  const row = prepared(db, 'SELECT * FROM purse_cards WHERE card_id = ?').get(movement.cardId) as CardRow | undefined;
  const before = row ? ledgerOf(db, row) : anchoredLedger(movement);
  const debit = movement.authorizationId === undefined ? undefined : debitFactsOf(db, movement.authorizationId);
  const step = applyMovement(before, movement, debit);
  for (const divergence of step.divergences)
    insertAlert(db, { cardId: movement.cardId, kind: divergence.kind, message: divergence.message }, envelope);
  if (!step.applied && step.divergences.length === 0) return;
  const card = step.applied ? step.card : before;
  prepared(
    db,
    `INSERT INTO purse_cards (card_id, balance, counter, loads, loaded_total, pays, paid_total, refunds, refunded_total, last_use_ms, last_store_id,
       alerts, missing_counters)
     VALUES (@cardId, @balance, @counter, @loads, @loadedTotal, @pays, @paidTotal, @refunds, @refundedTotal, @lastUseMs, @lastStoreId, @alerts,
       @missingCounters)
     ON CONFLICT (card_id) DO UPDATE SET balance = excluded.balance, counter = excluded.counter, loads = excluded.loads,
       loaded_total = excluded.loaded_total, pays = excluded.pays, paid_total = excluded.paid_total, refunds = excluded.refunds,
       refunded_total = excluded.refunded_total, last_use_ms = excluded.last_use_ms,
       last_store_id = excluded.last_store_id, alerts = excluded.alerts, missing_counters = excluded.missing_counters`,
  ).run({
    // The ledger's own fields bind by name; those whose column form differs follow.
    ...card,
    lastUseMs: card.lastUseMs ?? null,
    lastStoreId: card.lastStoreId ?? null,
    alerts: (row?.alerts ?? 0) + step.divergences.length,
    missingCounters: JSON.stringify([...card.missingCounters]),
  });
  if (step.late && card.missingCounters.size === 0) {
    prepared(db, "UPDATE purse_alerts SET resolved = 1 WHERE card_id = ? AND kind = 'counter_gap' AND resolved = 0").run(card.cardId);
  }
  if (step.applied && movement.authorizationId !== undefined) {
    prepared(db, 'INSERT OR REPLACE INTO purse_loaded_authorisations (authorization_id, card_id, counter) VALUES (?, ?, ?)').run(
      movement.authorizationId,
      movement.cardId,
      movement.counter,
    );
  }
}

function ledgerOf(db: Database.Database, row: CardRow): CardLedger {
  const loaded = prepared(db, 'SELECT authorization_id, counter FROM purse_loaded_authorisations WHERE card_id = ?').all(
    row.card_id,
  ) as Array<{ authorization_id: string; counter: number }>;
  return {
    cardId: row.card_id,
    balance: row.balance,
    counter: row.counter,
    loads: row.loads,
    loadedTotal: row.loaded_total,
    pays: row.pays,
    paidTotal: row.paid_total,
    refunds: row.refunds,
    refundedTotal: row.refunded_total,
    lastUseMs: row.last_use_ms ?? undefined,
    lastStoreId: row.last_store_id ?? undefined,
    loadedAuthorisations: new Map(loaded.map((l) => [l.authorization_id, l.counter])),
    missingCounters: new Set(JSON.parse(row.missing_counters) as number[]),
  };
}

export interface PurseCardView {
  cardId: string;
  balance: number;
  counter: number;
  loads: { count: number; total: number };
  pays: { count: number; total: number };
  refunds: { count: number; total: number };
  /** The balance head office last saw is as of this movement: when it happened and where. */
  lastUse: string | null;
  lastStoreId: string | null;
  alerts: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Queries over the ledger for the API and tests. */
export class PurseLedgerReader {
  constructor(private readonly db: Database.Database) {}

  card(cardId: string): PurseCardView | undefined {
    const row = prepared(this.db, 'SELECT * FROM purse_cards WHERE card_id = ?').get(cardId) as CardRow | undefined;
    return (
      row && {
        cardId: row.card_id,
        balance: row.balance,
        counter: row.counter,
        loads: { count: row.loads, total: row.loaded_total },
        pays: { count: row.pays, total: row.paid_total },
        refunds: { count: row.refunds, total: row.refunded_total },
        lastUse: iso(row.last_use_ms),
        lastStoreId: row.last_store_id,
        alerts: row.alerts,
      }
    );
  }

  accountBalance(bankId: string): number | undefined {
    return (prepared(this.db, 'SELECT balance FROM purse_accounts WHERE bank_id = ?').get(bankId) as { balance: number } | undefined)
      ?.balance;
  }

  alerts(filter: AlertFilter = {}): PurseAlertView[] {
    return queryAlerts(this.db, filter);
  }

  openAlertCounts() {
    return openAlertCounts(this.db);
  }
}
