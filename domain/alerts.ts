// How urgent each alert head office raises is, so operators see first what loses customers money.
import type { AlertSeverity } from '../contracts/index.js';
import type { LoadAlertKind } from './load-reconciliation.js';
import type { DivergenceKind } from './purse-ledger.js';

/** A store said of a chip what its verified records do not bear out (StoreClaimRefused). */
export type ClaimAlertKind = 'store_claim_refused';

/** A lost card's late movement corrected the balance moved to its replacement (CardReplacementAdjusted). */
export type ReplacementAlertKind = 'replacement_adjusted';

export type AlertKind = DivergenceKind | LoadAlertKind | ClaimAlertKind | ReplacementAlertKind;

const SEVERITY: Readonly<Record<AlertKind, AlertSeverity>> = {
  // A customer's account debited and the card not credited: the case operators look at first.
  debited_not_credited: 'critical',
  mac_invalid: 'high',
  counter_repeat: 'high',
  balance_mismatch: 'high',
  load_without_debit: 'high',
  load_debit_mismatch: 'high',
  load_after_reversal: 'high',
  store_claim_refused: 'high',
  // The scheme credited a replacement card more (or less) than the lost card held: someone settles it.
  replacement_adjusted: 'high',
  counter_gap: 'warning',
  load_unconfirmed: 'warning',
};

/** Higher is more urgent. */
export const SEVERITY_RANK: Readonly<Record<AlertSeverity, number>> = { critical: 3, high: 2, warning: 1 };
export const ALERT_SEVERITIES = Object.keys(SEVERITY_RANK) as [AlertSeverity, ...AlertSeverity[]];

export function alertSeverity(kind: AlertKind): AlertSeverity {
  return SEVERITY[kind];
}
