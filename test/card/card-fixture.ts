import {
  authoriseCredit,
  bankId,
  generateIssuerMasterKeys,
  newAuthorisationId,
  newBlankCard,
  newCardId,
  terminalKeysOf,
  type IssuerMasterKeys,
} from '../../card/index.js';
import { expect } from 'vitest';
import { CardStatusError, ChipTerminal, type CardTransport, type PersonalData } from '../../reader/index.js';

export const ISSUER: IssuerMasterKeys = generateIssuerMasterKeys(1);
export const STORE_KEYS = terminalKeysOf(ISSUER);
export const BANK = bankId('0001', '234', '5678901');
export const PIN = '1234';
export const PERSONAL: PersonalData = {
  name: '山田 太郎',
  address: '東京都千代田区丸の内1-1-1',
  birthDate: '1980-04-01',
  occupation: 'engineer',
  affiliation: 'cardsys',
};

export function blankCard() {
  return newBlankCard(ISSUER.transport);
}

function headOffice(transport: CardTransport): ChipTerminal {
  return new ChipTerminal(transport, { keys: ISSUER, terminalName: 'hq-issuance' });
}

export function storeTerminal(transport: CardTransport, name = 'store-001/pos-1'): ChipTerminal {
  return new ChipTerminal(transport, { keys: STORE_KEYS, terminalName: name });
}

/** Primary issuance at head office on a blank card in the given transport; returns the card id. */
export async function primaryIssue(transport: CardTransport, expiry = '2030-12'): Promise<string> {
  const cardId = newCardId();
  await headOffice(transport).initialise(ISSUER, { cardId, expiry, pin: PIN, bankId: BANK });
  return cardId;
}

/** Loads `amount` the way a load terminal does: select, authenticate, PIN, head office's authorisation, credit. */
export async function load(terminal: ChipTerminal, amount: number) {
  await terminal.select();
  const info = await terminal.readInfo();
  await terminal.authenticate();
  await terminal.verifyPin(PIN);
  const { counter } = await terminal.readBalance();
  const authorisationId = newAuthorisationId();
  const authorisationMac = authoriseCredit(ISSUER, { cardId: info.cardId, cardCounter: counter, amount, authorisationId });
  return { receipt: await terminal.credit({ amount, authorisationId, authorisationMac }), authorisationId, authorisationMac };
}

/** The status word (hex) a chip command was refused with; fails the test when it was not refused. */
export async function statusOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CardStatusError);
  return (error as CardStatusError).sw.toString(16);
}
