import { randomBytes } from 'node:crypto';
import { bankId, bankIdDigits, type BankId } from './bank-id.js';
import { ascii, equalBytes, fromHex, toHex } from './crypto/bytes.js';
import { INIT_TAG } from './application/commands.js';
import {
  creditAuthorisationMac,
  pinUnblockMac,
  terminationAuthorisationMac,
  transactionMac,
  type PurseOperation,
} from './application/purse-macs.js';
import { encodeTlv } from './application/tlv.js';
import { computeAuthCode, deriveCardKey, diversifyCardKeys, type IssuerMasterKeys } from './keys.js';

// What head office computes with the issuer master keys: primary issuance data, credit, PIN
// unblock and termination authorisations, and the check of the MAC a card returned for a credit or debit.

/** The card's account of one credit or debit, as the terminal received it. Ids and MACs in hex. */
export interface PurseReceipt {
  readonly operation: PurseOperation;
  readonly cardId: string;
  /** The transaction counter value this operation got on the card. */
  readonly counter: number;
  readonly amount: number;
  readonly newBalance: number;
  readonly terminalId: string;
  readonly mac: string;
}

export interface CreditAuthorisationRequest {
  readonly cardId: string;
  /** The card's transaction counter before the credit (from GET BALANCE). */
  readonly cardCounter: number;
  readonly amount: number;
  /** 8 bytes in hex, unique per authorisation. */
  readonly authorisationId: string;
}

/** A fresh authorisation id (8 random bytes, hex). */
export function newAuthorisationId(): string {
  return toHex(randomBytes(8));
}

/** Head office's authorisation MAC (hex) for one credit: only the credit master can make it. */
export function authoriseCredit(master: IssuerMasterKeys, request: CreditAuthorisationRequest): string {
  const cardId = cardIdBytes(request.cardId);
  const authorisationId = fromHex(request.authorisationId, 'authorisation id');
  if (authorisationId.length !== 8) throw new Error('authorisation id must be 8 bytes (16 hex digits)');
  const key = deriveCardKey(master.credit, cardId, 'credit');
  return toHex(creditAuthorisationMac(key, cardId, request.cardCounter, request.amount, authorisationId));
}

/**
 * Head office's consent (hex) to terminate a card at its current counter (TERMINATE CARD USAGE):
 * the card empties its purse and takes no command again. Only the credit master can make it.
 */
export function authoriseTermination(master: IssuerMasterKeys, request: { cardId: string; cardCounter: number }): string {
  const cardId = cardIdBytes(request.cardId);
  return toHex(terminationAuthorisationMac(deriveCardKey(master.credit, cardId, 'credit'), cardId, request.cardCounter));
}

export interface PinUnblockAuthorisationRequest {
  readonly cardId: string;
  /** The card's PIN reset counter before the unblock (from GET DATA, PIN status). */
  readonly pinResets: number;
  /** 8 bytes in hex, unique per authorisation. */
  readonly authorisationId: string;
}

/** Head office's unblock MAC (hex) for one RESET RETRY COUNTER: only the credit master can make it. */
export function authorisePinUnblock(master: IssuerMasterKeys, request: PinUnblockAuthorisationRequest): string {
  const cardId = cardIdBytes(request.cardId);
  const authorisationId = fromHex(request.authorisationId, 'authorisation id');
  if (authorisationId.length !== 8) throw new Error('authorisation id must be 8 bytes (16 hex digits)');
  return toHex(pinUnblockMac(deriveCardKey(master.credit, cardId, 'credit'), cardId, request.pinResets, authorisationId));
}

/** True when the receipt's MAC is the one the card would have made with its transaction key. */
export function verifyCardMac(master: IssuerMasterKeys, receipt: PurseReceipt): boolean {
  const cardId = cardIdBytes(receipt.cardId);
  const key = deriveCardKey(master.transaction, cardId, 'transaction');
  const expected = transactionMac(
    key,
    receipt.operation,
    cardId,
    receipt.counter,
    receipt.amount,
    receipt.newBalance,
    fromHex(receipt.terminalId, 'terminal id'),
  );
  return equalBytes(expected, fromHex(receipt.mac, 'card MAC'));
}

export interface PrimaryIssuance {
  /** 8 bytes, hex. */
  readonly cardId: string;
  /** Last month of validity, "YYYY-MM". */
  readonly expiry: string;
  /** 4 to 8 digits. */
  readonly pin: string;
  readonly bankId: BankId;
}

/** The INITIALISE data (TLV) for a blank card: identity, diversified keys, PIN, authentication code. */
export function initialisationData(master: IssuerMasterKeys, issuance: PrimaryIssuance): Uint8Array {
  const cardId = cardIdBytes(issuance.cardId);
  const expiry = expiryDigits(issuance.expiry);
  if (!/^\d{4,8}$/.test(issuance.pin)) throw new Error('PIN must be 4 to 8 digits');
  const keys = diversifyCardKeys(master, cardId);
  return encodeTlv([
    [INIT_TAG.CARD_ID, cardId],
    [INIT_TAG.KEY_VERSION, Uint8Array.of(master.keyVersion)],
    [INIT_TAG.EXPIRY, ascii(expiry)],
    [INIT_TAG.AUTH_CODE, computeAuthCode(master.authCode, cardId, expiry, master.keyVersion)],
    [INIT_TAG.PIN, ascii(issuance.pin)],
    [INIT_TAG.BANK_ID, ascii(bankIdDigits(bankId(issuance.bankId.bankCode, issuance.bankId.branchCode, issuance.bankId.accountNumber)))],
    [INIT_TAG.KEY_TERMINAL, keys.terminal],
    [INIT_TAG.KEY_DATA, keys.data],
    [INIT_TAG.KEY_CREDIT, keys.credit],
    [INIT_TAG.KEY_TRANSACTION, keys.transaction],
  ]);
}

export function cardIdBytes(cardId: string): Uint8Array {
  if (!/^[0-9a-fA-F]{16}$/.test(cardId)) throw new Error(`card id must be 16 hex digits, got "${cardId}"`);
  return fromHex(cardId);
}

/** "YYYY-MM" → "YYYYMM" as the chip stores it. */
export function expiryDigits(expiry: string): string {
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(expiry);
  if (!match) throw new Error(`expiry must be "YYYY-MM", got "${expiry}"`);
  return `${match[1]}${match[2]}`;
}

/** "YYYYMM" → "YYYY-MM". */
export function expiryFromDigits(digits: string): string {
  return `${digits.slice(0, 4)}-${digits.slice(4, 6)}`;
}

/** A fresh random card id (hex). */
export function newCardId(): string {
  return toHex(randomBytes(8));
}
