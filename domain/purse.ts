// The rules a store applies before touching a card's purse. Pure: the caller reads the chip, the
// stripe and the blacklist, then asks here what to do.

/** What a terminal learnt about a card before a purse operation. */
export interface CardFacts {
  cardId: string;
  /** The chip's authentication code matched what head office issued. */
  authCodeValid: boolean;
  /** The data MAC kept with the balance matched: the chip's state was not edited. */
  dataMacValid: boolean;
  /** Last month ("YYYY-MM", valid through its last day) or last day ("YYYY-MM-DD") the card may be used. */
  expiry: string;
  balance: number;
  blacklisted: boolean;
  blacklistReason?: string;
  /** The chip is terminated (handed back or replaced): it takes no more purse operations. */
  terminated: boolean;
}

export type PurseOperation = 'load' | 'pay' | 'refund' | 'return';

/** Why a card or an operation is refused; `code` goes into PosReply.code and PurseOperationDeclined.reason. */
export interface Refusal {
  code: 'card_unusable' | 'card_terminated' | 'tampered' | 'expired' | 'blacklisted' | 'insufficient_balance' | 'balance_limit';
  message: string;
}

/** The most a purse may hold. */
export const MAX_PURSE_BALANCE = 10_000_000;

/** Today's date as the card's expiry compares to it: YYYY-MM-DD in UTC. */
export function isoDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * The one expiry rule: a card is usable through its expiry month (YYYY-MM, as the chip holds it)
 * or day (YYYY-MM-DD), and true when `today` (YYYY-MM-DD) is past it; an expiry that is neither
 * counts as expired.
 */
export function isExpiredOn(expiry: string, today: string): boolean {
  if (!/^\d{4}-\d{2}(-\d{2})?$/.test(expiry)) return true;
  return today.slice(0, expiry.length) > expiry;
}

/** The checks every purse operation runs first: terminated, authentication code, tamper check, expiry, blacklist. */
export function checkCardUsable(card: CardFacts, today: string): Refusal | undefined {
  if (card.terminated) return { code: 'card_terminated', message: 'this card cannot be used: it was handed back and terminated' };
  if (!card.authCodeValid) return { code: 'card_unusable', message: 'this card cannot be used: its authentication code is not valid' };
  if (!card.dataMacValid) return { code: 'tampered', message: 'this card cannot be used: its data fails the tamper check' };
  if (isExpiredOn(card.expiry, today)) return { code: 'expired', message: `this card expired on ${card.expiry}` };
  if (card.blacklisted) {
    const why = card.blacklistReason ? ` (${card.blacklistReason})` : '';
    return { code: 'blacklisted', message: `this card is reported lost or stolen and cannot be used${why}` };
  }
  return undefined;
}

export type PurseDecision = { ok: true; newBalance: number } | ({ ok: false } & Refusal);

/** Pay within the chip balance only. */
export function decidePay(card: CardFacts, amount: number, today: string): PurseDecision {
  const refusal = checkCardUsable(card, today);
  if (refusal) return { ok: false, ...refusal };
  if (amount > card.balance) {
    return { ok: false, code: 'insufficient_balance', message: `balance ${yen(card.balance)} is less than ${yen(amount)}` };
  }
  return { ok: true, newBalance: card.balance - amount };
}

/** Load: the card must be usable and the purse must stay within its limit. */
export function decideLoad(card: CardFacts, amount: number, today: string): PurseDecision {
  const refusal = checkCardUsable(card, today);
  if (refusal) return { ok: false, ...refusal };
  if (card.balance + amount > MAX_PURSE_BALANCE) {
    return {
      ok: false,
      code: 'balance_limit',
      message: `a purse holds at most ${yen(MAX_PURSE_BALANCE)}; balance is ${yen(card.balance)}`,
    };
  }
  return { ok: true, newBalance: card.balance + amount };
}

export function yen(amount: number): string {
  return `¥${amount.toLocaleString('en-US')}`;
}
