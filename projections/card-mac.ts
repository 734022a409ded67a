// The card MAC check every read model over purse movements applies: head office believes the chip's
// MAC, not the store's word.
import { terminalIdBytes, toHex, verifyCardMac, type IssuerMasterKeys, type PurseOperation } from '../card/index.js';

export interface MacedMovement {
  cardId: string;
  cardCounter: number;
  amount: number;
  newBalance: number;
  /** The terminal as the store names it, or the 16 hex digits the chip logs. */
  terminalId: string;
  cardMac: Uint8Array;
}

/** Verdicts remembered per set of issuer keys: every read model over purse movements checks the same MACs. */
const verdicts = new WeakMap<IssuerMasterKeys, Map<string, boolean>>();
/** More than a runner's batch, so each projection of a batch finds the verdicts the first one reached. */
const VERDICTS_KEPT = 4_096;

/** True when the card's transaction MAC over the movement verifies with the card's key. */
export function cardMacValid(keys: IssuerMasterKeys, operation: PurseOperation, movement: MacedMovement): boolean {
  let known = verdicts.get(keys);
  if (!known) verdicts.set(keys, (known = new Map()));
  const key = `${operation}:${movement.cardId}:${movement.cardCounter}:${movement.amount}:${movement.newBalance}:${movement.terminalId}:${toHex(movement.cardMac)}`;
  let verdict = known.get(key);
  if (verdict === undefined) {
    verdict = verify(keys, operation, movement);
    if (known.size >= VERDICTS_KEPT) known.delete(known.keys().next().value!);
    known.set(key, verdict);
  }
  return verdict;
}

function verify(keys: IssuerMasterKeys, operation: PurseOperation, movement: MacedMovement): boolean {
  try {
    return verifyCardMac(keys, {
      operation,
      cardId: movement.cardId,
      counter: movement.cardCounter,
      amount: movement.amount,
      newBalance: movement.newBalance,
      terminalId: toHex(terminalIdBytes(movement.terminalId)),
      mac: toHex(movement.cardMac),
    });
  } catch {
    // A card id or MAC that is not even well-formed fails like a wrong MAC.
    return false;
  }
}
