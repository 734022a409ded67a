// Read models over the host event store: the runner, the projection contract, and every projection.
export {
  ProjectionRunner,
  type ProjectionLogger,
  type ProjectionRunnerOptions,
  type RebuildProgress,
  type RunnerStatus,
} from './runner.js';
export type { Projection } from './projection.js';
export { headOfficeProjections, projections, READ_MODELS_FILE } from './read-models.js';
export { userDbProjection } from './user-db.js';
export { AccessLogReader, type AccessLogEntry, type AccessLogFilter } from './access-log.js';
export { ReadModelQueries, type CardView, type StoreSyncView, type UserView } from './queries.js';
export { PurseLedgerReader, purseLedgerProjection } from './purse-ledger.js';
export { LoadTracks, type LoadView } from './load-tracking.js';
export {
  BooksReader,
  type CardStatementEntry,
  type FloatFigure,
  type FloatOfCard,
  type OpenDayView,
  type StatementView,
} from './books-reader.js';
export type { AlertFilter } from './purse-alerts.js';
export { applyIssuanceEvent, IssuanceSnapshotReader, ISSUANCE_SNAPSHOT_SCHEMA, type SnapshotStore } from './issuance-snapshot.js';
export { ActivityReader } from './activity.js';
