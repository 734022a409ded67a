import type { Database } from 'better-sqlite3';

/**
 * Authorisations this store recorded a PurseLoaded for. Head office learns of a load only once the
 * event is replicated; until then it may report the credit as found on the chip, and the store must
 * not record it a second time.
 */
export class RecordedLoads {
  private readonly insert;
  private readonly lookup;

  constructor(db: Database) {
    db.exec('CREATE TABLE IF NOT EXISTS purse_recorded_loads (authorization_id TEXT PRIMARY KEY)');
    this.insert = db.prepare<[string]>('INSERT OR IGNORE INTO purse_recorded_loads (authorization_id) VALUES (?)');
    this.lookup = db.prepare<[string], { authorization_id: string }>(
      'SELECT authorization_id FROM purse_recorded_loads WHERE authorization_id = ?',
    );
  }

  remember(authorizationId: string): void {
    this.insert.run(authorizationId);
  }

  recorded(authorizationId: string): boolean {
    return this.lookup.get(authorizationId) !== undefined;
  }
}
