import { fromHex } from '../crypto/bytes.js';

// Command codes and data layouts of the cardsys purse application, shared by the chip and the
// terminal (contracts/card-application.md is the specification).

/** F0 (proprietary RID) || "CARDSYS" || application version 01. */
export const AID = fromHex('f0434152445359530' + '1');

export const CLA_PROPRIETARY = 0x80;

export const INS = {
  SELECT: 0xa4,
  GET_RESPONSE: 0xc0,
  GET_CHALLENGE: 0x84,
  MUTUAL_AUTHENTICATE: 0x82,
  GET_DATA: 0xca,
  GET_BALANCE: 0x5c,
  READ_DATA: 0xb0,
  READ_RECORD: 0xb2,
  VERIFY_PIN: 0x20,
  PERSONALISE: 0xda,
  INITIALISE: 0xe0,
  CREDIT: 0x52,
  DEBIT: 0x54,
  RESET_RETRY_COUNTER: 0x2c,
  CHANGE_REFERENCE_DATA: 0x24,
  TERMINATE: 0xe6,
} as const;

/** GET DATA P2: which data object (P1 is 00); a terminated card keeps its termination record. */
export const DATA_OBJECT = { SYSTEM_INFO: 0x01, PIN_STATUS: 0x02, TERMINATION_RECORD: 0x03 } as const;

/** VERIFY PIN, RESET RETRY COUNTER and CHANGE REFERENCE DATA P2: the card holder's PIN. */
export const PIN_REFERENCE = 0x01;

/** MUTUAL AUTHENTICATE P2: which key the terminal proves it holds. */
export const KEY_REF = { TRANSPORT: 0x00, TERMINAL: 0x01 } as const;

/** READ DATA P1: the data files. */
export const FILE = { BANK: 0x02, PERSONAL: 0x03 } as const;

/** READ DATA returns the file in blocks of this many bytes (P2 = block number). */
export const READ_BLOCK = 224;

/** PERSONALISE P1: chunk number (0-based); bit 8 marks the last chunk. */
export const LAST_CHUNK = 0x80;
export const PERSONALISE_CHUNK = 224;
export const MAX_PERSONAL_RECORD = 1024;

/** INITIALISE data tags. */
export const INIT_TAG = {
  CARD_ID: 0x01,
  KEY_VERSION: 0x02,
  EXPIRY: 0x03,
  AUTH_CODE: 0x04,
  PIN: 0x05,
  BANK_ID: 0x06,
  KEY_TERMINAL: 0x11,
  KEY_DATA: 0x12,
  KEY_CREDIT: 0x13,
  KEY_TRANSACTION: 0x14,
} as const;

/** Personal record tags (values UTF-8). The bank ID tag repeats the card's bank ID as a cross-check. */
export const PERSONAL_TAG = {
  NAME: 0x01,
  ADDRESS: 0x02,
  BIRTH_DATE: 0x03,
  OCCUPATION: 0x04,
  AFFILIATION: 0x05,
  BANK_ID: 0x10,
} as const;

/** GET DATA (system information) layout: card id 8, lifecycle 1, key version 1, expiry 6, auth code 8. */
export const SYSTEM_INFO_LENGTH = 24;
/** GET BALANCE layout: balance 4, counter 4, data MAC 8. */
export const BALANCE_RECORD_LENGTH = 16;
/** CREDIT data: amount 4, authorisation id 8, authorisation MAC 8, terminal id 8, time 4. */
export const CREDIT_DATA_LENGTH = 32;
/** DEBIT data: amount 4, terminal id 8, time 4. */
export const DEBIT_DATA_LENGTH = 16;
/** TERMINATE CARD USAGE data: head office's termination MAC 8, terminal id 8, time 4. */
export const TERMINATE_DATA_LENGTH = 20;
/** TERMINATE CARD USAGE response: amount unloaded 4, counter 4, card MAC 8. */
export const TERMINATE_RESPONSE_LENGTH = 16;
/** GET DATA PIN status layout: tries left 1, PIN reset counter 4. */
export const PIN_STATUS_LENGTH = 5;
/** A PIN inside RESET RETRY COUNTER and CHANGE REFERENCE DATA: its ASCII digits, then FF up to 8 bytes. */
export const PIN_FIELD_LENGTH = 8;
export const PIN_FIELD_FILL = 0xff;
/** RESET RETRY COUNTER data: unblock authorisation id 8, unblock MAC 8, new PIN field 8. */
export const RESET_RETRY_DATA_LENGTH = 24;
/** CHANGE REFERENCE DATA data: old PIN field 8, new PIN field 8. */
export const CHANGE_PIN_DATA_LENGTH = 16;
/** CREDIT/DEBIT response: new balance 4, counter 4, card MAC 8. */
export const PURSE_RESPONSE_LENGTH = 16;
/** READ RECORD (log) layout: operation 1, amount 4, counter 4, balance after 4, time 4, terminal id 8, MAC 8. */
export const LOG_RECORD_LENGTH = 33;
