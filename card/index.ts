// The IC card's purse application and its cryptography: pure logic, no I/O. The chip side
// (processApdu over a serialisable CardState), the key hierarchy, and head office's issuer functions.
export { aesCmac } from './crypto/cmac.js';
export { ascii, concat, equalBytes, fromHex, toHex, u32 } from './crypto/bytes.js';
export {
  cardKeyInput,
  computeAuthCode,
  deriveCardKey,
  generateIssuerMasterKeys,
  issuerKeysFromJson,
  keysToJson,
  terminalIdBytes,
  terminalIdOf,
  terminalKeysFromJson,
  terminalKeysOf,
  type CardKeyPurpose,
  type CardKeys,
  type IssuerMasterKeys,
  type TerminalKeys,
} from './keys.js';
export {
  authoriseCredit,
  authoriseTermination,
  authorisePinUnblock,
  cardIdBytes,
  expiryDigits,
  expiryFromDigits,
  initialisationData,
  newAuthorisationId,
  newCardId,
  verifyCardMac,
  type CreditAuthorisationRequest,
  type PinUnblockAuthorisationRequest,
  type PrimaryIssuance,
  type PurseReceipt,
} from './issuer.js';
export {
  apduHex,
  buildCommandApdu,
  describeStatusWord,
  parseCommandApdu,
  parseResponseApdu,
  SW,
  swHex,
  type CommandApdu,
  type ResponseApdu,
} from './application/apdu.js';
export * as chipCommands from './application/commands.js';
export { processApdu, POWER_ON_SESSION, type ChipSession, type ChipStep, type RandomSource } from './application/chip.js';
export {
  newBlankCard,
  lifecycleOf,
  LOG_CAPACITY,
  type CardState,
  type Lifecycle,
  type LogEntry,
} from './application/state.js';
export {
  purseDataMac,
  transactionMac,
  operationCode,
  operationOf,
  TRANSACTION_MAC_LABEL,
  type PurseOperation,
} from './application/purse-macs.js';
export {
  deriveSessionKeys,
  protectCommand,
  unprotectResponse,
  terminalCryptogram,
  cardCryptogram,
  SM_CLA_BIT,
  type SessionKeys,
} from './application/secure-messaging.js';
export {
  decodePersonalRecord,
  encodePersonalRecord,
  personalRecordProblem,
  type PersonalFields,
  type PersonalRecordProblem,
} from './application/personal-record.js';
export { bankId, bankIdDigits, parseBankId, type BankId } from './bank-id.js';
