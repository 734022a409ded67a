// The domain: pure decisions and rules, no I/O. Head office, the stores and the auditor all apply
// these same functions.
export * from './decider.js';
export * from './application.js';
export * from './purse.js';
export * from './load-authorisation.js';
export * from './refund-authorisation.js';
export * from './purse-ledger.js';
export * from './blacklist.js';
export * from './pay-recovery.js';
export * from './books.js';
export * from './store-clearing.js';
export * from './load-reconciliation.js';
export * from './alerts.js';
export * from './issuance.js';
export * from './card-return.js';
export * from './pin-unblock.js';
export * from './card-replacement.js';
