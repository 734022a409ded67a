// The devices a card passes through, at a store counter and at head office: the card reader (a
// terminal API over the purse application, ChipTerminal, on PC/SC through pcscd or the chip in
// process, with typed errors) and the magnetic stripe reader (ISO/IEC 7813 track 2).
export {
  ChipTerminal,
  type BalanceReading,
  type CardInfo,
  type ChipTerminalOptions,
  type LogRecord,
  type PersonalData,
  type PinStatus,
  type ValidityVerdict,
} from './chip-terminal.js';
export { exchange, type CardTransport } from './transport.js';
export { InProcessCard } from './in-process-card.js';
export {
  CardReaderError,
  CardRemovedError,
  CardStatusError,
  NoCardError,
  NoReaderError,
  ReaderGoneError,
  UnknownCardError,
} from './errors.js';
export { mapPcscError, PcscCard, PcscReaders, pcscTerminalReaders, type PcscReadersEvents } from './pcsc.js';
export {
  DEFAULT_SERVICE_CODE,
  decodeTrack2,
  encodeTrack2,
  KeyboardWedgeStripeReader,
  StripeDataError,
  track2FromBits,
  track2ToBits,
  virtualStripeFile,
  VirtualStripeReader,
  writeVirtualStripe,
  type StripeReader,
  type Track2,
} from './stripe/index.js';
