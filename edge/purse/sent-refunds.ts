import type { Database } from 'better-sqlite3';
import type { RefundSent } from '../../domain/index.js';
import { durably } from '../log/index.js';

/** A refund's credit as this store noted it before sending it to the card. */
export interface NotedRefund extends RefundSent {
  refundId: string;
  payEventId: string;
  /** The POS command that sent the credit, and its terminal as events name it. */
  commandId: string;
  terminalName: string;
}

/**
 * Refund credits this store sent to a card and has not recorded. A credit is noted before it goes to
 * the card and forgotten once recorded or refused, so a card answer lost after the chip committed is
 * found at the card's next insertion here, also after a restart.
 */
export class SentRefunds {
  private readonly insert;
  private readonly remove;
  private readonly ofCard;

  constructor(private readonly db: Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS purse_sent_refunds (
        refund_id TEXT PRIMARY KEY,
        card_id TEXT NOT NULL,
        card_counter INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        terminal_id TEXT NOT NULL,
        pay_event_id TEXT NOT NULL,
        command_id TEXT NOT NULL,
        terminal_name TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS purse_sent_refunds_by_card ON purse_sent_refunds (card_id);
    `);
    this.insert = db.prepare<[string, string, number, number, string, string, string, string]>(
      `INSERT OR REPLACE INTO purse_sent_refunds (refund_id, card_id, card_counter, amount, terminal_id, pay_event_id, command_id, terminal_name)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.remove = db.prepare<[string]>('DELETE FROM purse_sent_refunds WHERE refund_id = ?');
    this.ofCard = db.prepare<
      [string],
      {
        refund_id: string;
        card_counter: number;
        amount: number;
        terminal_id: string;
        pay_event_id: string;
        command_id: string;
        terminal_name: string;
      }
    >('SELECT * FROM purse_sent_refunds WHERE card_id = ? ORDER BY card_counter');
  }

  /** Before the credit goes to the card; on disk before it returns. */
  sending(refund: NotedRefund): void {
    durably(this.db, () =>
      this.insert.run(
        refund.refundId,
        refund.cardId,
        refund.cardCounter,
        refund.amount,
        refund.terminalId,
        refund.payEventId,
        refund.commandId,
        refund.terminalName,
      ),
    );
  }

  /** Recorded, or known not to be on the card. */
  forget(refundId: string): void {
    this.remove.run(refundId);
  }

  unrecorded(cardId: string): NotedRefund[] {
    return this.ofCard.all(cardId).map((r) => ({
      refundId: r.refund_id,
      cardId,
      cardCounter: r.card_counter,
      amount: r.amount,
      terminalId: r.terminal_id,
      payEventId: r.pay_event_id,
      commandId: r.command_id,
      terminalName: r.terminal_name,
    }));
  }
}
