// The host event store: the interface every adapter implements, the adapters, how origins' chains
// are laid out in streams, and the one decoder of stored records.
export * from './event-store.js';
export { SqliteEventStore } from './sqlite-event-store.js';
export { EsdbEventStore } from './esdb-event-store.js';
export {
  CHAIN_HEAD_RECORD_TYPE,
  chainHeadRecord,
  originOfStream,
  originStreamName,
  readOriginTail,
  type OriginTail,
} from './stream-layout.js';
export { decodeRecord, domainEventsOf, type FedEvent, type HostEvent, type RecordPlace } from './records.js';
export {
  PostgresEventStore,
  DEFAULT_POSTGRES_SCHEMA,
  postgresTarget,
  type PostgresEventStoreOptions,
  type PostgresTarget,
} from './postgres-event-store.js';
export { withoutPassword } from './server-url.js';
