// Issuance at the store: the encrypted copy of head office's issuance info, lookups, and the
// secondary issuance flow a POS terminal starts.
export { IssuanceCache, type IssuanceEntry, type ApplyOutcome, type CacheState } from './issuance-cache.js';
export { IssuanceInfo, type IssuanceInfoOptions, type IssuanceLookup } from './issuance-info.js';
export { SecondaryIssuance, issuedRecordSealContext, type SecondaryIssuanceOptions } from './secondary-issuance.js';
export { startStoreIssuance, type IssuanceEdge, type StoreIssuance, type StoreIssuanceOptions } from './start-issuance.js';
