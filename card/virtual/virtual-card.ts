import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { POWER_ON_SESSION, processApdu, type ChipSession, type RandomSource } from '../application/chip.js';
import type { CardState } from '../application/state.js';
import { loadCardState, saveCardState } from './state-file.js';

/** vpcd's first slot listens on this TCP port; slot n on VPCD_BASE_PORT + n. */
export const VPCD_BASE_PORT = 0x8c7b;
/** The loopback address the card link uses, so the quickack route touches nothing else. */
export const CARD_LINK_HOST = '127.0.0.2';

/**
 * ATR for T=1: TS 3B, T0 8A (TD1, 10 historical bytes), TD1 80, TD2 01 (T=1), "CARDSYS/01", TCK.
 */
const ATR = (() => {
  const body = [0x8a, 0x80, 0x01, ...new TextEncoder().encode('CARDSYS/01')];
  const tck = body.reduce((x, byte) => x ^ byte, 0);
  return Uint8Array.from([0x3b, ...body, tck]);
})();

const CONTROL = { POWER_OFF: 0, POWER_ON: 1, RESET: 2, GET_ATR: 4 } as const;

export interface VirtualCardOptions {
  readonly stateFile: string;
  /** vpcd's TCP port (VPCD_BASE_PORT + slot). */
  readonly port: number;
  readonly host?: string;
  readonly random?: RandomSource;
}

/**
 * A virtual IC card for vsmartcard's vpcd: connecting to vpcd's port is inserting the card into
 * that reader slot, closing the connection is pulling it out. The card's non-volatile memory is a
 * state file, written (atomically, fsync'd) before any response that follows a change leaves the
 * card: a card pulled mid-command keeps its previous state.
 *
 * Events: 'inserted', 'removed', 'apdu' (command bytes), 'answer-lost' (command bytes), 'error'.
 */
export class VirtualCard extends EventEmitter {
  private socket: Socket | undefined;
  private buffer = Buffer.alloc(0);
  private state: CardState | undefined;
  private session: ChipSession = POWER_ON_SESSION;
  private pullOnInstruction: number | undefined;
  private loseAnswerOnInstruction: number | undefined;
  private readonly random: RandomSource;
  /** Command APDUs answered since construction. */
  apduCount = 0;

  constructor(private readonly options: VirtualCardOptions) {
    super();
    this.random = options.random ?? ((length) => new Uint8Array(randomBytes(length)));
  }

  get inserted(): boolean {
    return this.socket !== undefined;
  }

  get host(): string {
    return this.options.host ?? CARD_LINK_HOST;
  }

  /** Connects to vpcd; resolves once the TCP link is up (pcscd notices the card at its next poll). */
  insert(): Promise<void> {
    if (this.socket) return Promise.resolve();
    this.state = loadCardState(this.options.stateFile);
    this.session = POWER_ON_SESSION;
    this.buffer = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      const loopback = this.host.startsWith('127.');
      const socket = connect({ host: this.host, port: this.options.port, ...(loopback ? { localAddress: this.host } : {}) });
      socket.setNoDelay(true);
      const failed = (error: Error) =>
        reject(
          new Error(
            `virtual card cannot reach vpcd at ${this.host}:${this.options.port}: ${error.message} (is pcscd running with vpcd? see infra/pcsc)`,
          ),
        );
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        socket.on('error', (error) => this.emit('error', error));
        this.socket = socket;
        this.emit('inserted');
        resolve();
      });
      socket.on('data', (chunk) => this.receive(socket, chunk));
      socket.on('close', () => {
        if (this.socket === socket) {
          this.socket = undefined;
          this.emit('removed');
        }
      });
    });
  }

  /** Pulls the card out: closes the link and waits until it is closed. */
  remove(): Promise<void> {
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  /** The next command APDU with this INS byte finds the card pulled out before it commits anything. */
  pullDuring(ins: number): void {
    this.pullOnInstruction = ins;
  }

  /**
   * The next command with this INS byte that changes the card is committed, and its answer never
   * leaves the card (as when the card is pulled or the terminal loses power right after the chip's
   * commit); emits 'answer-lost' with the command. The card stays silent until it is pulled.
   */
  loseAnswerTo(ins: number): void {
    this.loseAnswerOnInstruction = ins;
  }

  private receive(socket: Socket, chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2 && socket === this.socket) {
      const length = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + length) return;
      const payload = new Uint8Array(this.buffer.subarray(2, 2 + length));
      this.buffer = this.buffer.subarray(2 + length);
      try {
        if (length === 1) this.control(socket, payload[0]!);
        else if (length > 1) this.command(socket, payload);
      } catch (error) {
        // An unreadable or unwritable state file: the card goes mute, as a chip with failed memory would.
        this.emit('error', error instanceof Error ? error : new Error(String(error)));
        socket.destroy();
        return;
      }
    }
  }

  private control(socket: Socket, code: number): void {
    switch (code) {
      case CONTROL.POWER_OFF:
      case CONTROL.POWER_ON:
      case CONTROL.RESET:
        // A power cycle or reset clears RAM and re-reads non-volatile memory.
        this.session = POWER_ON_SESSION;
        this.state = loadCardState(this.options.stateFile);
        break;
      case CONTROL.GET_ATR:
        this.send(socket, ATR);
        break;
      default:
        this.emit('error', new Error(`vpcd sent unknown control code ${code}`));
    }
  }

  private command(socket: Socket, apdu: Uint8Array): void {
    this.emit('apdu', apdu);
    if (this.pullOnInstruction !== undefined && apdu[1] === this.pullOnInstruction) {
      this.pullOnInstruction = undefined;
      socket.destroy();
      return;
    }
    const state = this.state ?? loadCardState(this.options.stateFile);
    const step = processApdu(state, this.session, apdu, this.random);
    if (step.commit) saveCardState(this.options.stateFile, step.state);
    this.state = step.state;
    this.session = step.session;
    this.apduCount++;
    if (step.commit && this.loseAnswerOnInstruction === apdu[1]) {
      this.loseAnswerOnInstruction = undefined;
      this.emit('answer-lost', apdu);
      return;
    }
    this.send(socket, step.response);
  }

  private send(socket: Socket, payload: Uint8Array): void {
    const frame = Buffer.alloc(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    socket.write(frame);
  }
}
