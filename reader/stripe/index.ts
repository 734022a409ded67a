// The magnetic stripe port: ISO/IEC 7813 track 2 with the bank ID, read from a keyboard-wedge
// reader or from a virtual card's companion stripe file.
export { DEFAULT_SERVICE_CODE, decodeTrack2, encodeTrack2, StripeDataError, track2FromBits, track2ToBits, type Track2 } from './track2.js';
export { KeyboardWedgeStripeReader, virtualStripeFile, VirtualStripeReader, writeVirtualStripe, type StripeReader } from './readers.js';
