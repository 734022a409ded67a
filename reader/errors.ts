import { describeStatusWord, swHex } from '../card/index.js';

/** Base of every error the card reader port raises. */
export class CardReaderError extends Error {
  // Each kind of error below is named by its class.
  override readonly name: string = this.constructor.name;
}

/** No PC/SC reader (or pcscd itself) is available. */
export class NoReaderError extends CardReaderError {}

/** The reader is there but holds no card. */
export class NoCardError extends CardReaderError {}

/** The card left the reader during a command: its outcome is unknown to the terminal. */
export class CardRemovedError extends CardReaderError {}

/** The card does not carry this application (SELECT by AID refused) or is of another key generation. */
export class UnknownCardError extends CardReaderError {}

/** The reader disappeared (unplugged, pcscd stopped). */
export class ReaderGoneError extends CardReaderError {}

/** The card's answer failed its secure-messaging MAC or was malformed. */
export class CardResponseError extends CardReaderError {}

/** The card refused a command; `sw` is the ISO 7816-4 status word. */
export class CardStatusError extends CardReaderError {
  constructor(
    readonly command: string,
    readonly sw: number,
  ) {
    super(`${command}: card answered ${swHex(sw)} (${describeStatusWord(sw)})`);
  }

  /** PIN tries left for 63Cx, 0 for 6983 (blocked), undefined otherwise. */
  get pinTriesLeft(): number | undefined {
    if ((this.sw & 0xfff0) === 0x63c0) return this.sw & 0x0f;
    if (this.sw === 0x6983) return 0;
    return undefined;
  }
}
