// What the contracts offer: protobuf messages and their codecs, NATS subjects, and zod schemas for
// every HTTP body and CLI input.
export * from './codec.js';
export * from './subjects.js';
export * from './schemas.js';
export type * from './console-views.js';
export * from './chain.js';
export * from './sealed.js';
export { LOOKUP_ERROR_HEADER, lookupReplySealContext, lookupRequestSealContext, snapshotSealContext } from './issuance-channel.js';
export type { KeyPair } from './key-pairs.js';
export {
  headOfficeMessageRefusal,
  openSignedSealed,
  signedSealedKeyId,
  signHeadOfficeMessage,
  signSealed,
  type KnownSender,
} from './signed.js';
export {
  decryptPinBlock,
  encryptPinBlock,
  generatePinKey,
  loadPinKey,
  PinBlockError,
  savePinKey,
  terminalPinKey,
  type PinBinding,
} from './pin-block.js';
