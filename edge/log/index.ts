// The store's durable local event log.
export { EventLog, LogCorruptError, type AppendedEntry, type EventLogOptions, type LogEntry } from './event-log.js';
export { durably } from './durable-state.js';
