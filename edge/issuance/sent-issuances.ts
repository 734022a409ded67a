import type { Database } from 'better-sqlite3';
import { durably } from '../log/index.js';

/**
 * Personalisations this store sent to a card, and whether it recorded CardIssued for them. Noted
 * (on disk) before the first PERSONALISE goes to the card, marked recorded once CardIssued is in
 * the log: a card that answers "already issued" at this store is then known to be recorded here, or
 * to have been written here and never recorded (card pulled, node stopped between the chip's
 * commit and the log's).
 */
export class SentIssuances {
  private readonly insert;
  private readonly markRecorded;
  private readonly get;

  constructor(private readonly db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS issuance_sent (
      card_id TEXT PRIMARY KEY,
      sent_at TEXT NOT NULL,
      recorded_at TEXT
    )`);
    this.insert = db.prepare<[string, string]>(
      'INSERT INTO issuance_sent (card_id, sent_at) VALUES (?, ?) ON CONFLICT (card_id) DO UPDATE SET sent_at = excluded.sent_at',
    );
    this.markRecorded = db.prepare<[string, string]>('UPDATE issuance_sent SET recorded_at = ? WHERE card_id = ?');
    this.get = db.prepare<[string], { recorded_at: string | null }>('SELECT recorded_at FROM issuance_sent WHERE card_id = ?');
  }

  /** Before the personal record goes to the card. */
  sending(cardId: string): void {
    durably(this.db, () => this.insert.run(cardId, new Date().toISOString()));
  }

  recorded(cardId: string): void {
    this.markRecorded.run(new Date().toISOString(), cardId);
  }

  /** True when this store recorded CardIssued for the card. */
  recordedHere(cardId: string): boolean {
    return (this.get.get(cardId)?.recorded_at ?? null) !== null;
  }
}
