import { randomBytes } from 'node:crypto';
import { POWER_ON_SESSION, processApdu, type CardState, type ChipSession, type RandomSource } from '../card/index.js';
import { CardRemovedError, NoCardError } from './errors.js';
import type { CardTransport } from './transport.js';

/**
 * The chip application in this process, behind the same transport interface as a PC/SC reader:
 * fast unit tests of terminal logic, and the same commit-before-reply rule as the virtual card.
 */
export class InProcessCard implements CardTransport {
  private session: ChipSession = POWER_ON_SESSION;
  private present = true;
  private pullOnInstruction: number | undefined;

  constructor(
    private cardState: CardState,
    private readonly random: RandomSource = (length) => new Uint8Array(randomBytes(length)),
  ) {}

  get state(): CardState {
    return this.cardState;
  }

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.present) throw new NoCardError('no card in the in-process reader');
    if (this.pullOnInstruction !== undefined && apdu[1] === this.pullOnInstruction) {
      this.pullOnInstruction = undefined;
      this.remove();
      throw new CardRemovedError('card removed during the command');
    }
    const step = processApdu(this.cardState, this.session, apdu, this.random);
    this.cardState = step.state;
    this.session = step.session;
    return step.response;
  }

  /** The next command with this INS byte finds the card pulled out before it could commit. */
  pullDuring(ins: number): void {
    this.pullOnInstruction = ins;
  }

  remove(): void {
    this.present = false;
    this.session = POWER_ON_SESSION;
  }

  insert(): void {
    this.present = true;
    this.session = POWER_ON_SESSION;
  }
}
