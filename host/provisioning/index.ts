// Store provisioning: keys, NATS credentials, TLS certificates and the hub's accounts, made at head office.
export * from './layout.js';
export * from './provision.js';
export { issuerKeysFile, loadIssuerKeys, loadOrCreateIssuerKeys } from './issuer-keys.js';
export * from './nats-setup.js';
export * from './client-settings.js';
export { watchProvisionedStores } from './store-watch.js';
