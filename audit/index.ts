// Auditors' tools: export the host's history to a file, replay it (or the host event store) and
// verify every chain, signature, card MAC, counter, balance and load, and look at one event.
export { formatFinding, type Check, type Finding } from './findings.js';
export { eventStoreSource, type AuditRecord, type EventStoreRange, type RecordSource } from './records.js';
export { openExport, writeExport, type ExportFile, type ExportKeys, type ExportManifest, type ExportScope } from './export-file.js';
export { KeyRing, type RegisteredKey } from './keys.js';
export { replayAndVerify, type ReplayOptions, type ReplayResult } from './replay.js';
export { CardMacs, type CardTransaction } from './card-macs.js';
export { verifyEvent, type VerifiedEvent, type ChainNeighbour, type CoveringHead } from './verify-event.js';
export { compareReadModels, type ReadModelComparison } from './read-models.js';
export { encryptWords, expandKey, wordsOf } from './aes-words.js';
export { readEnvelope } from './envelope-view.js';
