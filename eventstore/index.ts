// The host event store: the interface every adapter implements, the adapters, how origins' chains
// are laid out in streams, and the one decoder of stored records.

export { EsdbEventStore } from './esdb-event-store.js';
export * from './event-store.js';
export {
  PostgresEventStore,
  type PostgresEventStoreOptions,
  type PostgresTarget,
  postgresTarget,
} from './postgres-event-store.js';
export {
  decodeRecord,
  domainEventsOf,
  type FedEvent,
  type HostEvent,
  type RecordPlace,
} from './records.js';
export { withoutPassword } from './server-url.js';
export { SqliteEventStore } from './sqlite-event-store.js';
export {
  CHAIN_HEAD_RECORD_TYPE,
  chainHeadRecord,
  type OriginTail,
  originOfStream,
  originStreamName,
  readOriginTail,
} from './stream-layout.js';
