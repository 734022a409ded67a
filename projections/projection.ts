import type Database from 'better-sqlite3';
import type { HostEvent } from '../eventstore/index.js';

/**
 * A read model. `schema` creates its tables (IF NOT EXISTS); `tables` names them so a rebuild can
 * drop them; bump `version` when the schema or the meaning of `apply` changes and the runner
 * rebuilds it from zero. `apply` runs inside the runner's transaction: synchronous, no I/O besides `db`.
 */
export interface Projection {
  name: string;
  version: number;
  schema: string;
  tables: readonly string[];
  apply(db: Database.Database, event: HostEvent): void;
}
