// Card issuance decisions, pure: primary issuance at head office (a registered user gets an
// initialised card) and each branch of secondary issuance at a store's POS.
import { createHash } from 'node:crypto';
import { pb, type cardsys, type DomainEvent, type EventData } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';
import { isExpiredOn, isoDay } from './purse.js';
import { bankIdDigits, personalRecordProblem } from '../card/index.js';

type Entry = cardsys.v1.IssuanceEntry.$Properties;

/** How long a card is valid: until the last day of the month, this many years after issuance. */
const CARD_VALIDITY_YEARS = 5;

/** YYYY-MM-DD: the last day of the month CARD_VALIDITY_YEARS after `issuedAt` (UTC). */
export function cardExpiry(issuedAt: Date): string {
  const lastDay = new Date(Date.UTC(issuedAt.getUTCFullYear() + CARD_VALIDITY_YEARS, issuedAt.getUTCMonth() + 1, 0));
  return lastDay.toISOString().slice(0, 10);
}

/** The chip keeps the expiry month ("YYYY-MM"); the card is valid to its last day ("YYYY-MM-DD"). */
export function monthEnd(expiryMonth: string): string {
  const [year, month] = expiryMonth.split('-').map(Number);
  if (!year || !month) throw new Error(`expiry month must be "YYYY-MM", got "${expiryMonth}"`);
  return new Date(Date.UTC(year, month, 0)).toISOString().slice(0, 10);
}

// ---- primary issuance (head office) ----------------------------------------------------------

export interface PrimaryIssuanceState {
  /** Registered users and their bank IDs. */
  readonly bankIdByUser: ReadonlyMap<string, string>;
  /** Every card head office has initialised, by card id. */
  readonly cardOwner: ReadonlyMap<string, string>;
}

const initialPrimaryIssuanceState = (): PrimaryIssuanceState => ({ bankIdByUser: new Map(), cardOwner: new Map() });

function evolvePrimaryIssuance(state: PrimaryIssuanceState, event: DomainEvent): PrimaryIssuanceState {
  switch (event.type) {
    case 'UserRegistered':
      return { ...state, bankIdByUser: new Map(state.bankIdByUser).set(event.data.userId, bankIdDigits(event.data.bank ?? {})) };
    case 'CardPrimaryIssued':
      return { ...state, cardOwner: new Map(state.cardOwner).set(event.data.cardId, event.data.userId) };
    default:
      return state;
  }
}

export interface IssuePrimaryCard {
  userId: string;
  cardId: string;
  issuedAt: Date;
  keyVersion: number;
}

export class UnknownUserError extends DomainRefusal {
  override name = 'UnknownUserError';
  constructor(readonly userId: string) {
    super('unknown_user', `no registered user ${userId}`);
  }
}

export class CardIdTakenError extends DomainRefusal {
  override name = 'CardIdTakenError';
  constructor(readonly cardId: string) {
    super('card_id_taken', `card ${cardId} is already issued`);
  }
}

type CardPrimaryIssuedEvent = { type: 'CardPrimaryIssued'; data: EventData<'CardPrimaryIssued'> };

function decidePrimaryIssuance(command: IssuePrimaryCard, state: PrimaryIssuanceState): CardPrimaryIssuedEvent[] {
  const bankId = state.bankIdByUser.get(command.userId);
  if (bankId === undefined) throw new UnknownUserError(command.userId);
  if (state.cardOwner.has(command.cardId)) throw new CardIdTakenError(command.cardId);
  return [
    {
      type: 'CardPrimaryIssued',
      data: {
        cardId: command.cardId,
        userId: command.userId,
        bankId,
        expiry: cardExpiry(command.issuedAt),
        keyVersion: command.keyVersion,
      },
    },
  ];
}

export const primaryIssuanceDecider: Decider<IssuePrimaryCard, PrimaryIssuanceState, CardPrimaryIssuedEvent> = {
  initialState: initialPrimaryIssuanceState,
  evolve: evolvePrimaryIssuance,
  decide: decidePrimaryIssuance,
};

// ---- secondary issuance (store POS) ----------------------------------------------------------

/** Where a card is in its life, as its chip reports it. */
export type ChipIssuanceState = 'blank' | 'primary_issued' | 'secondary_issued' | 'terminated';

/** What the terminal learnt from the chip before deciding anything. */
export interface ChipFacts {
  cardId: string;
  authCodeValid: boolean;
  state: ChipIssuanceState;
  expiry: string;
  /** The bank ID head office wrote to the chip at primary issuance, when the chip reports it. */
  bankId?: string;
}

export const ISSUANCE_MESSAGES = {
  card_unusable: 'this card cannot be used',
  already_issued: 'this card is already issued; go on to purse operations',
  no_issuance_data: 'no issuance data for this card',
  cannot_hold: "this card cannot hold the customer's data",
  issued: 'card issued',
  recovered: 'card issued earlier, its record lost (card pulled or node stopped): recorded now from the data on the card',
} as const;

const CARD_REFUSALS = ['invalid_auth_code', 'not_primary_issued', 'terminated', 'expired', 'stripe_mismatch'] as const;

/** Why a card is refused before anything is looked up. */
export type CardRefusal = (typeof CARD_REFUSALS)[number];

/**
 * Why the customer's data are not written: over the chip's limits (found before anything is sent to
 * the card), or refused by the chip itself (its status word says why).
 */
export type RecordRefusal = 'personal_data_too_long' | 'record_refused_by_card';

/** Every reason a CardIssueRejected may carry. */
export type IssueRejection = CardRefusal | RecordRefusal | 'no_issuance_data';

/** The POS reply's code for a rejection: every card refusal is "card_unusable", the others name themselves. */
export function rejectionCode(reason: IssueRejection): string {
  return (CARD_REFUSALS as readonly string[]).includes(reason) ? 'card_unusable' : reason;
}

export type ChipVerdict =
  | { outcome: 'card_unusable'; reason: CardRefusal; message: string }
  | { outcome: 'already_issued'; message: string }
  | { outcome: 'look_up' };

/**
 * Steps 1 and 2 of secondary issuance: an invalid authentication code makes the card unusable; a
 * card already carrying personal data goes straight to purse operations. A blank card (never
 * initialised by head office), a terminated one or an expired one is unusable too.
 */
export function judgeChip(chip: ChipFacts, now: Date): ChipVerdict {
  const unusable = (reason: CardRefusal): ChipVerdict => ({ outcome: 'card_unusable', reason, message: ISSUANCE_MESSAGES.card_unusable });
  if (!chip.authCodeValid) return unusable('invalid_auth_code');
  if (chip.state === 'blank') return unusable('not_primary_issued');
  // Handed back or replaced: the chip takes no more commands.
  if (chip.state === 'terminated') return unusable('terminated');
  if (chip.state === 'secondary_issued') return { outcome: 'already_issued', message: ISSUANCE_MESSAGES.already_issued };
  if (isExpiredOn(chip.expiry, isoDay(now))) return unusable('expired');
  return { outcome: 'look_up' };
}

/** The stripe must carry the bank ID head office put on the chip; otherwise one of them is forged. */
export function judgeStripe(chip: ChipFacts, stripeBankId: string): ChipVerdict {
  if (chip.bankId !== undefined && chip.bankId !== stripeBankId) {
    return { outcome: 'card_unusable', reason: 'stripe_mismatch', message: ISSUANCE_MESSAGES.card_unusable };
  }
  return { outcome: 'look_up' };
}

/** What is written to the chip at secondary issuance: the user's personal and bank data. */
export interface PersonalisationRecord {
  userId: string;
  personal: cardsys.v1.PersonalData.$Properties;
  bank: cardsys.v1.BankAccount.$Properties;
}

/**
 * The record of what secondary issuance wrote to a chip, as bytes: an IssuanceEntry without cards.
 * CardIssued carries its SHA-256 and the bytes sealed to head office; head office, which knows the
 * user's data, recomputes the digest to check that the card holds that user's data.
 */
export function writtenRecordBytes(bankId: string, record: PersonalisationRecord): Uint8Array {
  return pb.IssuanceEntry.encode({ bankId, userId: record.userId, personal: record.personal, bank: record.bank }).finish();
}

export function writtenRecordDigest(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export type LookupVerdict =
  | { outcome: 'no_issuance_data'; message: string }
  | { outcome: 'personal_data_too_long'; message: string; detail: string }
  | { outcome: 'personalise'; record: PersonalisationRecord };

/**
 * Step 3: the issuance entry found for the stripe's bank ID (store copy, then head office). No
 * entry, or an entry that does not list this card, means no data for this card. Data the chip
 * cannot hold (registered before head office checked them against the chip's limits) are not sent.
 */
export function judgeIssuanceEntry(chip: ChipFacts, entry: Entry | undefined): LookupVerdict {
  if (!waitsForCard(chip, entry)) return { outcome: 'no_issuance_data', message: ISSUANCE_MESSAGES.no_issuance_data };
  const problem = personalRecordProblem(entry.personal ?? {});
  if (problem) return { outcome: 'personal_data_too_long', message: ISSUANCE_MESSAGES.cannot_hold, detail: problem.message };
  return { outcome: 'personalise', record: { userId: entry.userId, personal: entry.personal ?? {}, bank: entry.bank ?? {} } };
}

/** The entry lists this card, for a user: the card waits for its secondary issuance. */
function waitsForCard(chip: ChipFacts, entry: Entry | undefined): entry is Entry & { userId: string } {
  return !!entry?.userId && (entry.cards?.some((card) => card.cardId === chip.cardId) ?? false);
}

/**
 * A card that answers "already issued" while head office (or the store's copy) still lists it as
 * waiting: it was personalised and CardIssued never recorded (card pulled, node stopped after the
 * chip's commit). The record to recover is the chip's own personal data, for the user the card was
 * issued to; undefined when the card does not wait (its issuance is recorded).
 */
export function recoveredIssuance(chip: ChipFacts, entry: Entry | undefined, personalOnChip: PersonalisationRecord['personal']) {
  if (!waitsForCard(chip, entry)) return undefined;
  const record: PersonalisationRecord = { userId: entry.userId, personal: personalOnChip, bank: entry.bank ?? {} };
  return record;
}

export interface IssuanceContext {
  storeId: string;
  terminalId: string;
}

/** Step 5: the record of a card finished at this store; the written data only as digest and sealed blob. */
export function cardIssued(
  chip: ChipFacts,
  record: PersonalisationRecord,
  written: { digest: Uint8Array; sealedForHeadOffice: Uint8Array },
  context: IssuanceContext,
  recovered = false,
): { type: 'CardIssued'; data: EventData<'CardIssued'> } {
  return {
    type: 'CardIssued',
    data: {
      cardId: chip.cardId,
      userId: record.userId,
      bankId: bankIdDigits(record.bank),
      storeId: context.storeId,
      terminalId: context.terminalId,
      expiry: chip.expiry,
      writtenDigest: written.digest,
      writtenSealed: written.sealedForHeadOffice,
      recovered,
    },
  };
}

/** The counter's message for a rejection; `detail` says what the chip could not hold or answered. */
function rejectionMessage(reason: IssueRejection, detail: string | undefined): string {
  if (reason === 'no_issuance_data') return ISSUANCE_MESSAGES.no_issuance_data;
  if (reason === 'personal_data_too_long' || reason === 'record_refused_by_card')
    return detail ? `${ISSUANCE_MESSAGES.cannot_hold}: ${detail}` : ISSUANCE_MESSAGES.cannot_hold;
  return ISSUANCE_MESSAGES.card_unusable;
}

export function cardIssueRejected(
  cardId: string,
  bankId: string,
  reason: IssueRejection,
  context: IssuanceContext,
  detail?: string,
): { type: 'CardIssueRejected'; data: EventData<'CardIssueRejected'> } {
  const message = rejectionMessage(reason, detail);
  return {
    type: 'CardIssueRejected',
    data: { cardId, bankId, storeId: context.storeId, terminalId: context.terminalId, reason, message },
  };
}
