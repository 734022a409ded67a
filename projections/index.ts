// Read models over the host event store: the runner, the projection contract, and every projection.
import type { Projection } from './projection.js';
import { storeSyncProjection } from './store-sync.js';
import { userDbProjection } from './user-db.js';

export { ProjectionRunner, type ProjectionLogger, type ProjectionRunnerOptions, type RebuildProgress, type RunnerStatus } from './runner.js';
export { CHAIN_HEAD_RECEIVED, decodeRecord, originOfStream, type HostEvent, type Projection, type RecordPlace } from './projection.js';
export { userDbProjection, storeSyncProjection };

/** Every read model head office keeps. A new projection is one more entry here. */
export const projections: readonly Projection[] = [userDbProjection, storeSyncProjection];

/** The read-model file inside head office's data directory. */
export const READ_MODELS_FILE = 'readmodels.db';
export { ReadModelQueries, type CardView, type StoreSyncView, type UserView } from './queries.js';
