// Head office's issuance info for stores: sealed snapshots and changes into each store's snapshot
// stream, and answers to on-demand lookups.
export { startSnapshotPublisher, encodeSnapshotUpdate, type SnapshotPublisher, type SnapshotPublisherOptions, type PublishFigures } from './snapshot-publisher.js';
export { startLookupResponder, type LookupResponderOptions } from './lookup-responder.js';
export { headOfficeIssuance, pcscIssuanceStation, type HeadOfficeIssuanceOptions } from './head-office-issuance.js';
