// Issuance at head office: the issuance info for stores (sealed snapshots and changes into each
// store's snapshot messages, answers to on-demand lookups), and the composition root that starts
// them with the application and primary issuance routes.

export {
  type LookupResponderOptions,
  startLookupResponder,
} from './lookup-responder.js';
export {
  type PublishFigures,
  type SnapshotPublisher,
  type SnapshotPublisherOptions,
  startSnapshotPublisher,
} from './snapshot-publisher.js';
export {
  type HeadOfficeIssuance,
  type HeadOfficeIssuanceOptions,
  headOfficeIssuance,
  pcscIssuanceStation,
} from './wiring.js';
