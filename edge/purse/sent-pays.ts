import type { Database } from 'better-sqlite3';
import type { PaySent } from '../../domain/index.js';
import { durably } from '../log/index.js';

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
    `);
    this.insert = db.prepare<[string, number, number, string]>(
      'INSERT OR REPLACE INTO purse_sent_pays (card_id, card_counter, amount, terminal_id) VALUES (?, ?, ?, ?)',
    );
    this.remove = db.prepare<[string, number]>('DELETE FROM purse_sent_pays WHERE card_id = ? AND card_counter = ?');
    this.ofCard = db.prepare<[string], { card_counter: number; amount: number; terminal_id: string }>(
      'SELECT card_counter, amount, terminal_id FROM purse_sent_pays WHERE card_id = ? ORDER BY card_counter',
    );
    this.raiseCounter = db.prepare<[string, number]>(
      'INSERT INTO purse_recorded_counters (card_id, last_counter) VALUES (?, ?) ON CONFLICT (card_id) DO UPDATE SET last_counter = MAX(last_counter, excluded.last_counter)',
    );
    this.lastCounter = db.prepare<[string], { last_counter: number }>('SELECT last_counter FROM purse_recorded_counters WHERE card_id = ?');
  }

  /** Before the debit goes to the card; on disk before it returns, so a power cut cannot lose it. */
  sending(pay: PaySent): void {
    durably(this.db, () => this.insert.run(pay.cardId, pay.cardCounter, pay.amount, pay.terminalId));
  }

  /** The card refused the debit, or the pay was found not to be on the chip: nothing to record. */
  forget(pay: Pick<PaySent, 'cardId' | 'cardCounter'>): void {
    this.remove.run(pay.cardId, pay.cardCounter);
  }

  /** After this store logged a movement of the card (a pay, sent or found, or a load). */
  recorded(cardId: string, cardCounter: number): void {
    this.db.transaction(() => {
      this.remove.run(cardId, cardCounter);
      this.raiseCounter.run(cardId, cardCounter);
    })();
  }

  unrecorded(cardId: string): PaySent[] {
    return this.ofCard.all(cardId).map((r) => ({ cardId, cardCounter: r.card_counter, amount: r.amount, terminalId: r.terminal_id }));
  }

  lastRecordedCounter(cardId: string): number {
    return this.lastCounter.get(cardId)?.last_counter ?? 0;
  }
}
