// Primary issuance at head office: a blank card in head office's own reader gets its identity,
// diversified keys, PIN, authentication code and bank ID on the chip, the bank ID on its magnetic
// stripe, and the user DB learns of it through CardPrimaryIssued.
import { randomInt } from 'node:crypto';
import { type BankId, type IssuerMasterKeys, newCardId, parseBankId } from '../../card/index.js';
import { type CardTransport, ChipTerminal, DEFAULT_SERVICE_CODE, writeVirtualStripe } from '../../reader/index.js';
import type { IssuanceOffice, PrimaryIssuedCard } from '../applications/index.js';

/** What head office writes to a card's magnetic stripe. */
export interface StripeData {
  bankId: BankId;
  /** Last month of validity, "YYYY-MM". */
  expiry: string;
}

/**
 * Head office's issuance station, as its configuration names it (never a caller): the PC/SC reader
 * the blank cards go into and the stripe encoder beside it.
 */
export interface IssuanceStation {
  readerName: string;
  /** The card now in the reader. */
  card: () => Promise<CardTransport>;
  writeStripe: (stripe: StripeData) => Promise<void>;
  /** Lets go of the reader. */
  close?: () => void;
}

export interface PrimaryIssuanceOptions {
  /** The writer's issuance office; throws NotWriterError where this instance does not hold the writer. */
  office: () => IssuanceOffice;
  issuerKeys: IssuerMasterKeys;
  /** Without a station, primary issuance is refused (IssuanceNotConfiguredError). */
  station?: IssuanceStation;
  now?: () => Date;
}

export interface IssueCardRequest {
  userId: string;
  /** 4-8 digits; a random 4-digit PIN (for the PIN mailer) when omitted. */
  pin?: string;
}

export type IssuedCard = PrimaryIssuedCard & { pin: string };

/** Head office runs without an issuance station. */
export class IssuanceNotConfiguredError extends Error {
  override name = 'IssuanceNotConfiguredError';
  readonly code = 'issuance_not_configured';
  constructor() {
    super(
      'head office has no issuance station: start `cardsys host` with --issuance-reader <PC/SC reader> --issuance-stripe vcard:<card state file>',
    );
  }
}

/** A random 4-digit PIN, as a PIN mailer would carry it. */
function newPin(): string {
  return String(randomInt(0, 10_000)).padStart(4, '0');
}

/** The stripe encoder of a virtual card: its stripe is the track 2 line kept beside its state file. */
export function virtualCardStripeWriter(stateFile: string): IssuanceStation['writeStripe'] {
  return async (stripe) => {
    writeVirtualStripe(stateFile, {
      bankId: stripe.bankId,
      expiry: stripe.expiry,
      serviceCode: DEFAULT_SERVICE_CODE,
      discretionary: '',
    });
  };
}

/** `--issuance-stripe`: "vcard:<card state file>" (the only stripe encoder head office drives so far). */
export function stripeWriterOf(spec: string): IssuanceStation['writeStripe'] {
  if (spec.startsWith('vcard:') && spec.length > 'vcard:'.length) return virtualCardStripeWriter(spec.slice('vcard:'.length));
  throw new Error(`--issuance-stripe: expected "vcard:<card state file>", got "${spec}"`);
}

export async function issuePrimaryCard(options: PrimaryIssuanceOptions, request: IssueCardRequest): Promise<IssuedCard> {
  const station = options.station;
  if (!station) throw new IssuanceNotConfiguredError();
  const pin = request.pin ?? newPin();
  if (!/^\d{4,8}$/.test(pin)) throw new Error('PIN must be 4 to 8 digits');
  const issuedAt = (options.now ?? (() => new Date()))();
  const card = await options.office().issuePrimaryCard(
    {
      userId: request.userId,
      cardId: newCardId(),
      issuedAt,
      keyVersion: options.issuerKeys.keyVersion,
    },
    async (planned) => {
      const bankId = parseBankId(planned.bankId);
      const expiry = planned.expiry.slice(0, 7);
      // The stripe first: it can be written again, a chip is initialised once.
      await station.writeStripe({ bankId, expiry });
      const terminal = new ChipTerminal(await station.card(), {
        keys: options.issuerKeys,
        terminalName: 'hq-issuer',
      });
      await terminal.initialise(options.issuerKeys, {
        cardId: planned.cardId,
        expiry,
        pin,
        bankId,
      });
    },
  );
  return { ...card, pin };
}
