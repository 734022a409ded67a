// A store's node and its parts.
export { EdgeMetrics } from './metrics.js';
export { startEdge, openEdgeDb, edgeLogDir, edgeDbFile, type EdgeNode, type EdgeOptions } from './edge-node.js';
export type { CounterOptions } from './pos/index.js';
export { EventLog, type AppendedEntry, type LogEntry } from './log/index.js';
export { batchMessageId, ReplicationCursor, type ReplicationProgress } from './replicator/index.js';
