// Store provisioning: keys, NATS credentials and the server's authorization block, made at head office.
export * from './layout.js';
export * from './provision.js';
export { issuerKeysFile, loadIssuerKeys, loadOrCreateIssuerKeys } from './issuer-keys.js';
