// The terms of a chip credit a store receives from head office, for a load or a refund: the credit
// MAC only the credit master can make, bound to the card, its counter, the amount and the id.
import { authoriseCredit, type IssuerMasterKeys } from '../../card/index.js';
import type { cardsys } from '../../contracts/index.js';

export interface CreditGrant {
  /** The authorisation id the chip remembers (a load's authorisation id, or a refund id). */
  id: string;
  cardId: string;
  cardCounter: number;
  amount: number;
  deadlineMs: number;
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
