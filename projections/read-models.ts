// The list of head office's read models, defined once: the host runs them, `projections rebuild`
// replays them, and the audit rebuilds them to compare.
import type { IssuerMasterKeys } from '../card/index.js';
import type { Projection } from './projection.js';
import { accessLogProjection } from './access-log.js';
import { activityProjection } from './activity.js';
import { booksProjection } from './books.js';
import { issuanceSnapshotProjection } from './issuance-snapshot.js';
import { purseLedgerProjection } from './purse-ledger.js';
import { storeSyncProjection } from './store-sync.js';
import { userDbProjection } from './user-db.js';

/** The read models that need no keys: user DB, store sync status, issuance snapshots, the API's access log, the console's activity. */
export const projections: readonly Projection[] = [
  userDbProjection,
  storeSyncProjection,
  issuanceSnapshotProjection,
  accessLogProjection,
  activityProjection,
];

/**
 * Every read model head office keeps. The purse ledger (with load reconciliation) and the books
 * (float, store clearing, card statements) check card MACs, so they need the issuer keys; without
 * them they are left out. A new projection is one more entry here.
 */
export function headOfficeProjections(issuerKeys: IssuerMasterKeys | undefined): Projection[] {
  return issuerKeys ? [...projections, purseLedgerProjection({ issuerKeys }), booksProjection({ issuerKeys })] : [...projections];
}

/** The read-model file inside head office's data directory. */
export const READ_MODELS_FILE = 'readmodels.db';
