// Replication of a store's log to head office, through JetStream, confirmed end to end.
export { batchMessageId, Replicator, type InFlightBatch, type ReplicationProgress, type ReplicatorOptions } from './replicator.js';
export { ReplicationCursor } from './replication-cursor.js';
