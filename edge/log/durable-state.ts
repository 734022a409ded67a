import type { Database } from 'better-sqlite3';

/**
 * Runs `work` in one transaction of edge.db that is on disk when it returns. edge.db runs in WAL
 * mode with synchronous=NORMAL, which loses the newest commits at a power cut; the notes that stand
 * between a command and the card (a command running, a pay or an issuance sent to a chip) must
 * survive it, so their commit syncs the WAL — and with it every earlier commit.
 */
export function durably<T>(db: Database, work: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(work)();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
