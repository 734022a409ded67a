// The store's POS command handler and the terminal-side client.
export { PosServer, type PosCommandKind, type PosHandler, type PosOutcome, type PosRequest, type PosServerOptions } from './pos-server.js';
export {
  sendPosCommand,
  encodePosCommand,
  decodePosReply,
  type SendOptions,
  type PosTerminal,
  type PosCommandInput,
} from './pos-client.js';
export { openChipTerminal, pinOf, type CounterOptions } from './counter.js';
