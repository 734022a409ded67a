// Primary issuance at head office: a blank card in head office's own reader gets its identity,
// diversified keys, PIN, authentication code and bank ID on the chip, the bank ID on its magnetic
// stripe, and the user DB learns of it through CardPrimaryIssued.
import { randomInt } from 'node:crypto';
import { newCardId, parseBankId, type BankId, type IssuerMasterKeys } from '../../card/index.js';
import { ChipTerminal, type CardTransport, DEFAULT_SERVICE_CODE, StripeDataError, writeVirtualStripe } from '../../reader/index.js';
import type { IssuanceOffice, PrimaryIssuedCard } from '../applications/index.js';

/** What head office writes to a card's magnetic stripe. */
export interface StripeData {
  bankId: BankId;
  /** Last month of validity, "YYYY-MM". */
  expiry: string;
}

export interface PrimaryIssuanceOptions {
  /** The writer's issuance office; throws NotWriterError where this instance does not hold the writer. */
  office: () => IssuanceOffice;
  issuerKeys: IssuerMasterKeys;
  /** The card in one of head office's readers, by reader name. */
  cardReader: (readerName: string) => Promise<CardTransport>;
  /** The stripe encoder beside that reader; `target` is what the request named (a virtual card's state file). */
  stripeWriter: (readerName: string, stripe: StripeData, target: string | undefined) => Promise<void>;
  now?: () => Date;
}

export interface IssueCardRequest {
  userId: string;
  readerName: string;
  /** 4-8 digits; a random 4-digit PIN (for the PIN mailer) when omitted. */
  pin?: string;
  /** Where the stripe goes when the encoder needs telling: a virtual card's state file. */
  stripeTarget?: string;
}

export type IssuedCard = PrimaryIssuedCard & { pin: string };

/** A random 4-digit PIN, as a PIN mailer would carry it. */
function newPin(): string {
  return String(randomInt(0, 10_000)).padStart(4, '0');
}

/**
 * The stripe encoder of a virtual card: its stripe is the track 2 line kept beside its state file,
 * which the request names.
 */
export async function writeVirtualCardStripe(readerName: string, stripe: StripeData, stateFile: string | undefined): Promise<void> {
  if (!stateFile)
    throw new StripeDataError(`no stripe encoder at reader "${readerName}": name the virtual card's state file to write its stripe`);
  writeVirtualStripe(stateFile, { bankId: stripe.bankId, expiry: stripe.expiry, serviceCode: DEFAULT_SERVICE_CODE, discretionary: '' });
}

export async function issuePrimaryCard(options: PrimaryIssuanceOptions, request: IssueCardRequest): Promise<IssuedCard> {
  const pin = request.pin ?? newPin();
  if (!/^\d{4,8}$/.test(pin)) throw new Error('PIN must be 4 to 8 digits');
  const issuedAt = (options.now ?? (() => new Date()))();
  const card = await options
    .office()
    .issuePrimaryCard(
      { userId: request.userId, cardId: newCardId(), issuedAt, keyVersion: options.issuerKeys.keyVersion },
      async (planned) => {
        const bankId = parseBankId(planned.bankId);
        const expiry = planned.expiry.slice(0, 7);
        // The stripe first: it can be written again, a chip is initialised once.
        await options.stripeWriter(request.readerName, { bankId, expiry }, request.stripeTarget);
        const terminal = new ChipTerminal(await options.cardReader(request.readerName), {
          keys: options.issuerKeys,
          terminalName: 'hq-issuer',
        });
        await terminal.initialise(options.issuerKeys, { cardId: planned.cardId, expiry, pin, bankId });
      },
    );
  return { ...card, pin };
}
