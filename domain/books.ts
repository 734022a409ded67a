// Head office's books over purse movements: which events move value on a card, how each counts in
// the float (the issuer's liability for value held on cards) and in store clearing, and the
// deposit duty of Japan's Payment Services Act. Pure: the read models and the reports apply these.
import type { PurseOperation } from '../card/index.js';
import type { DomainEvent } from '../contracts/index.js';
import { chipOperationOf } from './purse-ledger.js';

/** Every kind of movement of value on a card that head office books. */
export type MovementKind = 'load' | 'pay' | 'refund' | 'unload';

/** The side of a store's statement a movement counts on: the store is owed for pays and owes for refunds. */
export type ClearingSide = 'pay' | 'refund';

interface MovementRule {
  /** +1 when the movement adds value to the card (and so to the issuer's liability), −1 when it takes value off. */
  floatSign: 1 | -1;
  /** Where it counts on the statement of the store that made it; loads and unloads go through the bank account, not the store. */
  clearing: ClearingSide | undefined;
}

/** The float is loads − pays + refunds − unloads; a store is owed its pays less its refunds. */
export const MOVEMENT_RULES: Readonly<Record<MovementKind, MovementRule>> = {
  load: { floatSign: 1, clearing: undefined },
  pay: { floatSign: -1, clearing: 'pay' },
  refund: { floatSign: 1, clearing: 'refund' },
  unload: { floatSign: -1, clearing: undefined },
};

/** A movement as the chip MACed it. */
export interface BookedMovement {
  kind: MovementKind;
  /** Which of the chip's transaction MACs proves it. */
  chipOperation: PurseOperation;
  cardId: string;
  amount: number;
  /** The chip's balance after the movement. */
  newBalance: number;
  /** The chip's transaction counter after the movement: (card, counter) names the movement. */
  cardCounter: number;
  /** The POS terminal as the store names it; the chip logs and MACs the first 8 bytes of its SHA-256. */
  terminalId: string;
  cardMac: Uint8Array;
}

/**
 * The one place that says which events are movements of value on a card: loads, pays, refunds
 * onto the card (PurseRefunded, a chip credit charged to the store's takings) and the unload of a
 * returned card to the bank account (PurseUnloaded, the chip's own unload MAC); the float, the
 * store statements and the card statements count them by MOVEMENT_RULES.
 */
export function bookedMovementOf(event: DomainEvent): BookedMovement | undefined {
  switch (event.type) {
    case 'PurseLoaded':
      return booked('load', event.data);
    case 'PursePaid':
      return booked('pay', event.data);
    case 'PurseUnloaded':
      // The chip's last movement: the whole balance off the card to the bank account, nothing left.
      return booked('unload', { ...event.data, newBalance: 0 });
    case 'PurseRefunded':
      return booked('refund', event.data);
    default:
      return undefined;
  }
}

/** A replaced card's balance moved between the float and the scheme's replacement account, counted on the lost card. */
export interface ReplacementFloatMove {
  cardId: string;
  /** −amount: out of the float; the replacement card's load brings it back. */
  floatEffect: number;
}

/**
 * The lost card's balance leaves the float when head office moves it to the replacement account
 * (CardBalanceTransferred), and every correction of the transfer (CardReplacementAdjusted, by its
 * signed amount) moves the difference likewise: so the lost card's shadow balance and the new
 * card's credit are not both counted, and a late movement of the lost card nets out on it.
 */
export function replacementFloatMoveOf(event: DomainEvent): ReplacementFloatMove | undefined {
  switch (event.type) {
    case 'CardBalanceTransferred':
    case 'CardReplacementAdjusted':
      return { cardId: event.data.oldCardId, floatEffect: -event.data.amount };
    default:
      return undefined;
  }
}

/**
 * The card head office consented to capture as lost (UnloadAuthorised with lost_card): its chip's
 * unload takes nothing off the float, since the transfer already took the balance off it.
 */
export function capturedLostCardOf(event: DomainEvent): string | undefined {
  return event.type === 'UnloadAuthorised' && event.data.lostCard ? event.data.cardId : undefined;
}

type MovementFields = Omit<BookedMovement, 'kind' | 'chipOperation'>;

/** The chip operation comes from the purse ledger's rule, so the books and the ledger check the same MAC. */
function booked(kind: MovementKind, { cardId, amount, newBalance, cardCounter, terminalId, cardMac }: MovementFields): BookedMovement {
  return { kind, chipOperation: chipOperationOf(kind), cardId, amount, newBalance, cardCounter, terminalId, cardMac };
}

/** Japan's Payment Services Act: above this unused balance on a base date, the issuer must deposit. */
export const DEPOSIT_THRESHOLD_YEN = 10_000_000;

export interface DepositDuty {
  /** The unused balance is above ¥10,000,000. */
  exceedsThreshold: boolean;
  /** At least half the unused balance (rounded up to the yen) when above the threshold, else 0. */
  requiredDeposit: number;
}

export function depositDuty(unusedBalance: number): DepositDuty {
  const exceedsThreshold = unusedBalance > DEPOSIT_THRESHOLD_YEN;
  return { exceedsThreshold, requiredDeposit: exceedsThreshold ? Math.ceil(unusedBalance / 2) : 0 };
}

/** The Act's base dates in a year (YYYY-MM-DD): 31 March and 30 September. */
export function depositBaseDates(year: number): [string, string] {
  return [`${year}-03-31`, `${year}-09-30`];
}
