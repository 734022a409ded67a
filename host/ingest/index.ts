// Host ingest of the stores' replicated events, and how origin chains sit in the event store.
export { startIngest, ensureEventsStream, DUPLICATE_WINDOW_MS, type Ingest, type IngestOptions } from './ingest.js';
export type { BatchRefusal, StoredBatches } from './round.js';
export type { BatchVerdict, StoreKeys } from './batch-check.js';
