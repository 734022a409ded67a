// The store's durable local event log.
export { EventLog, LogCorruptError, type AppendedEntry, type EventLogOptions, type LogEntry, type Logger } from './event-log.js';
