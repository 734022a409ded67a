// The host event store: the interface every adapter implements, and the adapters.
export * from './event-store.js';
export { SqliteEventStore } from './sqlite-event-store.js';
export { EsdbEventStore } from './esdb-event-store.js';
export { PostgresEventStore, DEFAULT_POSTGRES_SCHEMA, type PostgresEventStoreOptions } from './postgres-event-store.js';
export { withoutPassword } from './server-url.js';
