// Issuance at head office: the issuance info for stores (sealed snapshots and changes into each
// store's snapshot stream, answers to on-demand lookups), and the composition root that starts
// them with the application and primary issuance routes.
export {
  startSnapshotPublisher,
  type SnapshotPublisher,
  type SnapshotPublisherOptions,
  type PublishFigures,
} from './snapshot-publisher.js';
export { startLookupResponder, type LookupResponderOptions } from './lookup-responder.js';
export { headOfficeIssuance, type HeadOfficeIssuance, type HeadOfficeIssuanceOptions } from './wiring.js';
