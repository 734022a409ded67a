// The store's POS command handler and the terminal-side client.
export { PosServer, type PosCommandKind, type PosHandler, type PosOutcome, type PosRequest, type PosServerOptions } from './pos-server.js';
export { sendPosCommand, decodePosReply, type SendOptions } from './pos-client.js';
export { openChipTerminal, type CounterOptions } from './counter.js';
