import type { Database } from 'better-sqlite3';
import type { PaySent } from '../../domain/index.js';
import { durably } from '../log/index.js';

/** A pay as this store noted it before sending it: also the command that sent it and its terminal. */
export interface NotedPay extends PaySent {
  /** The POS command that sent the debit (undefined in a note older than commands in notes). */
  commandId: string | undefined;
  /** The terminal as events name it (`storeTerminalName`); undefined in an older note. */
  terminalName: string | undefined;
}

/** A pay found on the card after its answer was lost, recorded under the command that sent it. */
export interface RecoveredPay {
  commandId: string;
  cardId: string;
  cardCounter: number;
  amount: number;
  eventId: string;
  recoveredAt: string;
}

/**
 * Pays this store sent to a card and has not recorded yet, and per card the last counter this store
 * recorded a movement at. A pay is remembered before the debit goes to the card and forgotten once
 * recorded, so a card answer lost after the chip committed is found at the card's next insertion,
 * also after a restart.
 */
export class SentPays {
  private readonly insert;
  private readonly remove;
  private readonly ofCard;
  private readonly raiseCounter;
  private readonly lastCounter;
  private readonly insertRecovered;
  private readonly recoveredStatement;

  constructor(private readonly db: Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS purse_sent_pays (
        card_id TEXT NOT NULL,
        card_counter INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        terminal_id TEXT NOT NULL,
        PRIMARY KEY (card_id, card_counter)
      );
      CREATE TABLE IF NOT EXISTS purse_recorded_counters (card_id TEXT PRIMARY KEY, last_counter INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS purse_recovered_pays (
        command_id TEXT PRIMARY KEY,
        card_id TEXT NOT NULL,
        card_counter INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        recovered_at TEXT NOT NULL
      );
    `);
    // Notes made before they named their command and terminal get the columns, empty.
    const columns = new Set(
      db
        .prepare<[], { name: string }>('PRAGMA table_info(purse_sent_pays)')
        .all()
        .map((c) => c.name),
    );
    for (const column of ['command_id', 'terminal_name'])
      if (!columns.has(column)) db.exec(`ALTER TABLE purse_sent_pays ADD COLUMN ${column} TEXT`);
    this.insert = db.prepare<[string, number, number, string, string | null, string | null]>(
      'INSERT OR REPLACE INTO purse_sent_pays (card_id, card_counter, amount, terminal_id, command_id, terminal_name) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.remove = db.prepare<[string, number]>('DELETE FROM purse_sent_pays WHERE card_id = ? AND card_counter = ?');
    this.ofCard = db.prepare<
      [string],
      { card_counter: number; amount: number; terminal_id: string; command_id: string | null; terminal_name: string | null }
    >('SELECT card_counter, amount, terminal_id, command_id, terminal_name FROM purse_sent_pays WHERE card_id = ? ORDER BY card_counter');
    this.insertRecovered = db.prepare<[string, string, number, number, string, string]>(
      'INSERT OR REPLACE INTO purse_recovered_pays (command_id, card_id, card_counter, amount, event_id, recovered_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.recoveredStatement = db.prepare<
      [string],
      { command_id: string; card_id: string; card_counter: number; amount: number; event_id: string; recovered_at: string }
    >('SELECT * FROM purse_recovered_pays WHERE command_id = ?');
    this.raiseCounter = db.prepare<[string, number]>(
      'INSERT INTO purse_recorded_counters (card_id, last_counter) VALUES (?, ?) ON CONFLICT (card_id) DO UPDATE SET last_counter = MAX(last_counter, excluded.last_counter)',
    );
    this.lastCounter = db.prepare<[string], { last_counter: number }>('SELECT last_counter FROM purse_recorded_counters WHERE card_id = ?');
  }

  /** Before the debit goes to the card; on disk before it returns, so a power cut cannot lose it. */
  sending(pay: NotedPay): void {
    durably(this.db, () =>
      this.insert.run(pay.cardId, pay.cardCounter, pay.amount, pay.terminalId, pay.commandId ?? null, pay.terminalName ?? null),
    );
  }

  /** The card refused the debit, or the pay was found not to be on the chip: nothing to record. */
  forget(pay: Pick<PaySent, 'cardId' | 'cardCounter'>): void {
    this.remove.run(pay.cardId, pay.cardCounter);
  }

  /** After this store logged a movement of the card (a pay, sent or found, or a load); `recovered`: a pay found on the card. */
  recorded(cardId: string, cardCounter: number, recovered?: RecoveredPay): void {
    this.db.transaction(() => {
      this.remove.run(cardId, cardCounter);
      this.raiseCounter.run(cardId, cardCounter);
      if (recovered)
        this.insertRecovered.run(
          recovered.commandId,
          recovered.cardId,
          recovered.cardCounter,
          recovered.amount,
          recovered.eventId,
          recovered.recoveredAt,
        );
    })();
  }

  unrecorded(cardId: string): NotedPay[] {
    return this.ofCard.all(cardId).map((r) => ({
      cardId,
      cardCounter: r.card_counter,
      amount: r.amount,
      terminalId: r.terminal_id,
      commandId: r.command_id ?? undefined,
      terminalName: r.terminal_name ?? undefined,
    }));
  }

  /** The pay the command sent, if it was found on the card after its answer was lost and recorded. */
  recoveredBy(commandId: string): RecoveredPay | undefined {
    const row = this.recoveredStatement.get(commandId);
    return (
      row && {
        commandId: row.command_id,
        cardId: row.card_id,
        cardCounter: row.card_counter,
        amount: row.amount,
        eventId: row.event_id,
        recoveredAt: row.recovered_at,
      }
    );
  }

  lastRecordedCounter(cardId: string): number {
    return this.lastCounter.get(cardId)?.last_counter ?? 0;
  }
}
