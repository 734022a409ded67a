import type { KeyObject } from 'node:crypto';
import type { BankId, TerminalKeys } from '../../card/index.js';
import { decryptPinBlock, terminalPinKey } from '../../contracts/index.js';
import { ChipTerminal, type CardTransport } from '../../reader/index.js';
import type { PosRequest } from './pos-server.js';

/** The store's counter: the terminal keys, each POS terminal's card reader and stripe reader. */
export interface CounterOptions {
  keys: TerminalKeys;
  /** The store's PIN master key: each terminal's PIN key, which its PIN blocks are encrypted under, derives from it. */
  pinMasterKey: Uint8Array;
  /** Head office's Ed25519 public key (bundle: hq-signing-key.pub.pem): blacklist changes, lists, snapshots and lookup answers must verify with it. */
  hqSigningPublicKey: KeyObject;
  cardReader: (terminalId: string) => CardTransport | Promise<CardTransport>;
  /** The bank ID from a terminal's magnetic stripe reader; the chip's bank file when absent. */
  stripeReader?: (terminalId: string) => Promise<BankId>;
  /** The store's clock: it stamps the store's events and the chip's log; default the system clock. */
  now?: () => Date;
}

/** The chip terminal over the card in a POS terminal's reader, named to the card by store and terminal. */
export async function openChipTerminal(
  counter: CounterOptions,
  request: Pick<PosRequest, 'terminalId' | 'terminalName'>,
): Promise<ChipTerminal> {
  return new ChipTerminal(await counter.cardReader(request.terminalId), { keys: counter.keys, terminalName: request.terminalName });
}

/**
 * A PIN of the command (a load's, or an old or new PIN at the counter), opened from its PIN block
 * with the key of the terminal it came from, to be presented to the card at once and kept nowhere.
 * PinBlockError when the block does not open.
 */
export function pinOf(counter: CounterOptions, request: PosRequest, pinBlock: Uint8Array | null | undefined): string {
  const key = terminalPinKey(counter.pinMasterKey, request.storeId, request.terminalId);
  const binding = { storeId: request.storeId, terminalId: request.terminalId, commandId: request.commandId };
  return decryptPinBlock(key, pinBlock ?? new Uint8Array(0), binding);
}
