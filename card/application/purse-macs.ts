import { aesCmac8 } from '../crypto/cmac.js';
import { ascii, concat, u32 } from '../crypto/bytes.js';

// The MACs that protect the purse and the PIN; the chip, store terminals and head office compute them alike.

/** An unload empties the purse as the card is terminated: the card's last operation. */
export type PurseOperation = 'credit' | 'debit' | 'unload';

const OPERATION_CODE: Record<PurseOperation, number> = { credit: 0x01, debit: 0x02, unload: 0x03 };

/** The label that opens every card transaction MAC message (and so its first AES block). */
export const TRANSACTION_MAC_LABEL = ascii('cardsys/transaction');

export function operationCode(operation: PurseOperation): number {
  return OPERATION_CODE[operation];
}

export function operationOf(code: number): PurseOperation | undefined {
  return (Object.keys(OPERATION_CODE) as PurseOperation[]).find((operation) => OPERATION_CODE[operation] === code);
}

/** Kept with the balance record under K_data: detects a balance or counter edited outside the chip. */
export function purseDataMac(dataKey: Uint8Array, cardId: Uint8Array, balance: number, counter: number): Uint8Array {
  return aesCmac8(dataKey, concat(ascii('cardsys/purse'), cardId, u32(balance), u32(counter)));
}

/** Head office's authorisation of one credit under K_cred, bound to the card's current counter. */
export function creditAuthorisationMac(
  creditKey: Uint8Array,
  cardId: Uint8Array,
  cardCounter: number,
  amount: number,
  authorisationId: Uint8Array,
): Uint8Array {
  return aesCmac8(creditKey, concat(ascii('cardsys/credit-authorisation'), cardId, u32(cardCounter), u32(amount), authorisationId));
}

/**
 * Head office's consent to terminate the card under K_cred, bound to the card's current counter: it
 * empties the purse at most once, and only while the card is still where head office saw it.
 */
export function terminationAuthorisationMac(creditKey: Uint8Array, cardId: Uint8Array, cardCounter: number): Uint8Array {
  return aesCmac8(creditKey, concat(ascii('cardsys/termination-authorisation'), cardId, u32(cardCounter)));
}

/** The card's proof of one credit or debit under K_txn; `counter` is the transaction's own number. */
export function transactionMac(
  transactionKey: Uint8Array,
  operation: PurseOperation,
  cardId: Uint8Array,
  counter: number,
  amount: number,
  newBalance: number,
  terminalId: Uint8Array,
): Uint8Array {
  return aesCmac8(
    transactionKey,
    concat(TRANSACTION_MAC_LABEL, Uint8Array.of(operationCode(operation)), cardId, u32(counter), u32(amount), u32(newBalance), terminalId),
  );
}

/**
 * Head office's authorisation of one PIN unblock (RESET RETRY COUNTER) under K_cred, bound to the
 * card and its PIN reset counter: good for one reset of this card only.
 */
export function pinUnblockMac(creditKey: Uint8Array, cardId: Uint8Array, pinResets: number, authorisationId: Uint8Array): Uint8Array {
  return aesCmac8(creditKey, concat(ascii('cardsys/pin-unblock'), cardId, u32(pinResets), authorisationId));
}
