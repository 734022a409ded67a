import type { Database } from 'better-sqlite3';

/** Where head office stands on this store's events, kept in edge.db so a restart resumes from it. */
export class ReplicationCursor {
  private readonly readStatement;
  private readonly writeStatement;

  constructor(db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS replication_cursor (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      confirmed_seq INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    )`);
    this.readStatement = db.prepare<[], { confirmed_seq: number }>('SELECT confirmed_seq FROM replication_cursor WHERE id = 1');
    this.writeStatement = db.prepare<[number, string]>(
      `INSERT INTO replication_cursor (id, confirmed_seq, updated_at) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET confirmed_seq = excluded.confirmed_seq, updated_at = excluded.updated_at`,
    );
  }

  /** Every event up to this sequence is confirmed in the host event store; 0 when none is. */
  get confirmedSeq(): number {
    return this.readStatement.get()?.confirmed_seq ?? 0;
  }

  set confirmedSeq(seq: number) {
    this.writeStatement.run(seq, new Date().toISOString());
  }
}
