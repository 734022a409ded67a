// The terms of a chip credit a store receives from head office, for a load or a refund: the credit
// MAC only the credit master can make, bound to the card, its counter, the amount and the id.
import { authoriseCredit, type IssuerMasterKeys } from '../../card/index.js';
import type { cardsys } from '../../contracts/index.js';
import { DomainRefusal } from '../../domain/index.js';
import type { Logger } from '../../infra/index.js';

export interface CreditGrant {
  /** The authorisation id the chip remembers (a load's authorisation id, or a refund id). */
  id: string;
  cardId: string;
  cardCounter: number;
  amount: number;
  deadlineMs: number;
}

/** What granting credits of cards takes, for loads and refunds alike. */
export interface CreditGranting {
  issuerKeys: IssuerMasterKeys;
  logger: Logger;
  /** How long a store has to credit the card after the authorisation. */
  validForMs: number;
  now: () => number;
}

export function creditTerms(issuerKeys: IssuerMasterKeys, grant: CreditGrant): cardsys.v1.LoadAuthorisation.$Properties {
  const mac = authoriseCredit(issuerKeys, {
    cardId: grant.cardId,
    cardCounter: grant.cardCounter,
    amount: grant.amount,
    authorisationId: grant.id,
  });
  return {
    authorizationId: grant.id,
    cardId: grant.cardId,
    amount: grant.amount,
    cardCounter: grant.cardCounter,
    mac: Buffer.from(mac, 'hex'),
    deadlineMs: grant.deadlineMs,
  };
}

/** Where and when a credit is authorised, and for how long: the same for a load and a refund. */
export const grantedAt = (storeId: string, terminalId: string, options: Pick<CreditGranting, 'now' | 'validForMs'>) => ({
  storeId,
  terminalId,
  nowMs: options.now(),
  validForMs: options.validForMs,
});

/** The authorisation just decided: its terms go out only while it is open. */
export function stillOpen<T extends { status: string }>(decided: T, named: string): T {
  if (decided.status !== 'open') throw new DomainRefusal('not_open', `${named} is ${decided.status}`);
  return decided;
}
