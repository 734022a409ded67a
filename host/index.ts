// Head office: the host process and the parts it is composed of.
export {
  startHost,
  openEventStore,
  describeEventStore,
  EVENTS_FILE,
  type HostNode,
  type HostOptions,
  type HostParts,
  type EventStoreChoice,
} from './host-node.js';
export type { ApiDeps } from './api/index.js';
export * from '../eventstore/index.js';
export type { HeadOfficeConnections } from './host-node.js';
