// NATS for cardsys: the server runner, who may do what on it, credential files, and the channel
// that carries each store's issuance snapshot.
export * from './nats-server.js';
export * from './auth.js';
export * from './credentials.js';
export * from './snapshot-channel.js';
export * from './connection.js';
