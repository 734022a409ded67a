// The store's card reader port: a terminal API over the purse application (ChipTerminal), the
// transports it runs on (PC/SC through pcscd, or the chip in process), and typed errors.
export { ChipTerminal, isExpired, type BalanceReading, type CardInfo, type ChipTerminalOptions, type LogRecord, type PersonalData, type ValidityVerdict } from './chip-terminal.js';
export { exchange, type CardTransport } from './transport.js';
export { InProcessCard } from './in-process-card.js';
export {
  CardReaderError,
  CardRemovedError,
  CardResponseError,
  CardStatusError,
  NoCardError,
  NoReaderError,
  ReaderGoneError,
  UnknownCardError,
} from './errors.js';
export { mapPcscError, PcscCard, PcscReaders, pcscTerminalReaders, type PcscReadersEvents } from './pcsc.js';
