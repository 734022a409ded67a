import type { BankId, TerminalKeys } from '../../card/index.js';
import { ChipTerminal, type CardTransport } from '../../reader/index.js';

/** The store's counter: the terminal keys, each POS terminal's card reader and stripe reader. */
export interface CounterOptions {
  keys: TerminalKeys;
  cardReader: (terminalId: string) => CardTransport | Promise<CardTransport>;
  /** The bank ID from a terminal's magnetic stripe reader; the chip's bank file when absent. */
  stripeReader?: (terminalId: string) => Promise<BankId>;
  /** The store's clock: it stamps the store's events and the chip's log; default the system clock. */
  now?: () => Date;
}

/** The chip terminal over the card in a POS terminal's reader. */
export async function openChipTerminal(counter: CounterOptions, terminalId: string): Promise<ChipTerminal> {
  return new ChipTerminal(await counter.cardReader(terminalId), { keys: counter.keys, terminalName: terminalId });
}
