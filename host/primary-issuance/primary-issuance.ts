// Primary issuance at head office: a blank card in head office's own reader gets its identity,
// diversified keys, PIN, authentication code and bank ID on the chip, the bank ID on its magnetic
// stripe, and the user DB learns of it through CardPrimaryIssued.
import { randomInt } from 'node:crypto';
import { newCardId, parseBankId, type BankId, type IssuerMasterKeys } from '../../card/index.js';
import { ChipTerminal, type CardTransport } from '../../edge/card-reader/index.js';
import type { IssuanceOffice, PrimaryIssuedCard } from '../applications/index.js';

/** What head office writes to a card's magnetic stripe. */
export interface StripeData {
  bankId: BankId;
  /** Last month of validity, "YYYY-MM". */
  expiry: string;
}

export interface PrimaryIssuanceOptions {
  office: IssuanceOffice;
  issuerKeys: IssuerMasterKeys;
  /** The card in one of head office's readers, by reader name. */
  cardReader: (readerName: string) => Promise<CardTransport>;
  /** The stripe writer beside that reader. */
  stripeWriter: (readerName: string, stripe: StripeData) => Promise<void>;
  now?: () => Date;
}

export interface IssueCardRequest {
  userId: string;
  readerName: string;
  /** 4-8 digits; a random 4-digit PIN (for the PIN mailer) when omitted. */
  pin?: string;
}

export type IssuedCard = PrimaryIssuedCard & { pin: string };

/** A random 4-digit PIN, as a PIN mailer would carry it. */
export function newPin(): string {
  return String(randomInt(0, 10_000)).padStart(4, '0');
}

export async function issuePrimaryCard(options: PrimaryIssuanceOptions, request: IssueCardRequest): Promise<IssuedCard> {
  const pin = request.pin ?? newPin();
  if (!/^\d{4,8}$/.test(pin)) throw new Error('PIN must be 4 to 8 digits');
  const issuedAt = (options.now ?? (() => new Date()))();
  const card = await options.office.issuePrimaryCard(
    { userId: request.userId, cardId: newCardId(), issuedAt, keyVersion: options.issuerKeys.keyVersion },
    async (planned) => {
      const bankId = parseBankId(planned.bankId);
      const expiry = planned.expiry.slice(0, 7);
      const terminal = new ChipTerminal(await options.cardReader(request.readerName), { keys: options.issuerKeys, terminalName: 'hq-issuer' });
      await terminal.initialise(options.issuerKeys, { cardId: planned.cardId, expiry, pin, bankId });
      await options.stripeWriter(request.readerName, { bankId, expiry });
    },
  );
  return { ...card, pin };
}
