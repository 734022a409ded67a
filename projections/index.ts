// Read models over the host event store: the runner, the projection contract, and every projection.
import type { IssuerMasterKeys } from '../card/index.js';
import type { Projection } from './projection.js';
import { accessLogProjection } from './access-log.js';
import { issuanceSnapshotProjection } from './issuance-snapshot.js';
import { purseLedgerProjection } from './purse-ledger.js';
import { storeSyncProjection } from './store-sync.js';
import { userDbProjection } from './user-db.js';

export { ProjectionRunner, type ProjectionLogger, type ProjectionRunnerOptions, type RebuildProgress, type RunnerStatus } from './runner.js';
export { CHAIN_HEAD_RECEIVED, decodeRecord, originOfStream, type HostEvent, type Projection, type RecordPlace } from './projection.js';
export { userDbProjection, storeSyncProjection, accessLogProjection };
export { AccessLogReader, type AccessLogEntry, type AccessLogFilter } from './access-log.js';

/** The read models that need no keys: user DB, store sync status, issuance snapshots, the API's access log. */
export const projections: readonly Projection[] = [userDbProjection, storeSyncProjection, issuanceSnapshotProjection, accessLogProjection];

/**
 * Every read model head office keeps: the host runs them, `projections rebuild` replays them, and
 * the audit rebuilds them to compare. The purse ledger checks card MACs, so it needs the issuer
 * keys; without them it is left out. A new projection is one more entry here.
 */
export function headOfficeProjections(issuerKeys: IssuerMasterKeys | undefined): Projection[] {
  return issuerKeys ? [...projections, purseLedgerProjection({ issuerKeys })] : [...projections];
}

/** The read-model file inside head office's data directory. */
export const READ_MODELS_FILE = 'readmodels.db';
export { ReadModelQueries, type CardView, type StoreSyncView, type UserView } from './queries.js';
