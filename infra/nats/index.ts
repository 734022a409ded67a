// NATS for cardsys: the server runner, who may do what on it (principals, per-store accounts on the
// hub, the hub's and a store broker's configuration), TLS, credential files, answering requests only
// to the asker, and the channel that carries each store's issuance snapshot.
export * from './nats-server.js';
export * from './auth.js';
export * from './accounts.js';
export * from './server-config.js';
export * from './tls.js';
export * from './credentials.js';
export * from './responder.js';
export * from './snapshot-channel.js';
export * from './connection.js';
export * from './jetstream-cluster.js';
