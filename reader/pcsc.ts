import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import type pcsclite from 'pcsclite';
import { CardReaderError, CardRemovedError, NoCardError, NoReaderError, ReaderGoneError } from './errors.js';
import type { CardTransport } from './transport.js';

type PcscLite = ReturnType<typeof pcsclite>;
type Reader = Parameters<Parameters<PcscLite['on']>[1]>[0] & { name: string };

const SCARD_STATE_PRESENT = 0x20;
/** How long a failed exchange waits for pcscd to say whether the card is still there (it polls every 400 ms). */
const PRESENCE_SETTLE_MS = 1500;

// PC/SC return codes (pcsclite's error messages end with "(0x8010....)").
const REMOVED = new Set([0x80100069, 0x80100068, 0x80100066, 0x80100067]);
const NO_CARD = new Set([0x8010000c]);
const READER_GONE = new Set([0x80100009, 0x80100017, 0x8010001e, 0x80100003]);
const NO_SERVICE = new Set([0x8010001d, 0x8010002e]);
const NOT_TRANSACTED = 0x80100016;

function pcscCode(error: unknown): number | undefined {
  const match = /\(0x([0-9a-fA-F]{8})\)/.exec(error instanceof Error ? error.message : String(error));
  return match ? Number.parseInt(match[1]!, 16) : undefined;
}

/** The typed error for a pcsclite failure (its message ends with the PC/SC return code). */
export function mapPcscError(error: unknown, reader: string): Error {
  const code = pcscCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (code !== undefined && REMOVED.has(code)) return new CardRemovedError(`card removed from "${reader}" during the command (${detail})`);
  if (code !== undefined && NO_CARD.has(code)) return new NoCardError(`no card in reader "${reader}"`);
  if (code !== undefined && READER_GONE.has(code)) return new ReaderGoneError(`reader "${reader}" is gone (${detail})`);
  if (code !== undefined && NO_SERVICE.has(code))
    return new NoReaderError(`no PC/SC service or reader available (${detail}); is pcscd running?`);
  return new CardReaderError(`PC/SC error on "${reader}": ${detail}`);
}

export interface PcscReadersEvents {
  'reader-added': [name: string];
  'reader-removed': [name: string];
  'card-inserted': [name: string, atr: Uint8Array];
  'card-removed': [name: string];
}

/**
 * The PC/SC readers pcscd offers: discovery, card insert/remove events, and exclusive connections
 * to a card. Works the same with vpcd's virtual readers and a USB CCID reader.
 */
export class PcscReaders extends EventEmitter<PcscReadersEvents> {
  private readonly readers = new Map<string, { reader: Reader; present: boolean; atr: Uint8Array | undefined }>();
  private lastError: Error | undefined;

  private constructor(private readonly pcsc: PcscLite) {
    super();
    pcsc.on('error', (error: unknown) => {
      this.lastError = mapPcscError(error, 'pcscd');
    });
    pcsc.on('reader', (reader) => this.track(reader as Reader));
  }

  /** Connects to pcscd; NoReaderError when the daemon is not reachable. */
  static open(): PcscReaders {
    let pcsc: PcscLite;
    try {
      // Loaded on first use: a process without a reader (head office, an edge in a worker thread)
      // never loads the native addon, which crashes when a second worker thread loads it after a first exited.
      pcsc = (createRequire(import.meta.url)('pcsclite') as typeof pcsclite)();
    } catch (error) {
      throw new NoReaderError(`cannot reach pcscd: ${(error as Error).message}; start it with "bash infra/pcsc/pcscd.sh start"`);
    }
    return new PcscReaders(pcsc);
  }

  readerNames(): string[] {
    return [...this.readers.keys()];
  }

  isCardPresent(name: string): boolean {
    return this.readers.get(name)?.present ?? false;
  }

  /** Resolves when pcscd lists the reader; NoReaderError after the timeout. */
  async waitForReader(name: string, timeoutMs = 5000): Promise<void> {
    if (this.readers.has(name)) return;
    await this.waitFor(
      'reader-added',
      (added) => added === name,
      timeoutMs,
      () => {
        const known = this.readerNames();
        return this.lastError ?? new NoReaderError(`no reader named "${name}" (readers: ${known.length ? known.join(', ') : 'none'})`);
      },
    );
  }

  /** Resolves when a card is in the reader; NoCardError after the timeout. */
  async waitForCard(name: string, timeoutMs = 5000): Promise<void> {
    await this.waitForReader(name, timeoutMs);
    if (this.isCardPresent(name)) return;
    await this.waitFor(
      'card-inserted',
      (inserted) => inserted === name,
      timeoutMs,
      () => new NoCardError(`no card in reader "${name}" after ${timeoutMs} ms`),
    );
  }

  /** Resolves when the reader holds no card (any more). */
  async waitForRemoval(name: string, timeoutMs = 5000): Promise<void> {
    if (!this.isCardPresent(name)) return;
    await this.waitFor(
      'card-removed',
      (removed) => removed === name,
      timeoutMs,
      () => new CardReaderError(`card still in reader "${name}" after ${timeoutMs} ms`),
    );
  }

  /** An exclusive connection to the card in the reader. */
  async connect(name: string): Promise<PcscCard> {
    const entry = this.readers.get(name);
    if (!entry) {
      const known = this.readerNames();
      throw this.lastError ?? new NoReaderError(`no reader named "${name}" (readers: ${known.length ? known.join(', ') : 'none'})`);
    }
    if (!entry.present) throw new NoCardError(`no card in reader "${name}"`);
    const { reader } = entry;
    const protocol = await new Promise<number>((resolve, reject) => {
      reader.connect({ share_mode: reader.SCARD_SHARE_EXCLUSIVE }, (error, chosen) =>
        error ? reject(mapPcscError(error, name)) : resolve(chosen),
      );
    });
    return new PcscCard(this, reader, name, protocol);
  }

  close(): void {
    for (const { reader } of this.readers.values()) reader.close();
    this.readers.clear();
    this.pcsc.close();
  }

  private track(reader: Reader): void {
    const name = reader.name;
    this.readers.set(name, { reader, present: false, atr: undefined });
    reader.on('error', (error: unknown) => {
      this.lastError = mapPcscError(error, name);
    });
    reader.on('status', (status) => {
      const entry = this.readers.get(name);
      if (!entry) return;
      const present = (status.state & SCARD_STATE_PRESENT) !== 0;
      if (present === entry.present) return;
      entry.present = present;
      entry.atr = present && status.atr ? new Uint8Array(status.atr) : undefined;
      if (present) this.emit('card-inserted', name, entry.atr ?? new Uint8Array(0));
      else this.emit('card-removed', name);
    });
    reader.on('end', () => {
      this.readers.delete(name);
      this.emit('reader-removed', name);
    });
    this.emit('reader-added', name);
  }

  /** After a failed exchange: did the card leave? pcscd notices at its next presence poll. */
  async cardLeft(name: string): Promise<boolean> {
    if (!this.readers.has(name)) return true;
    if (!this.isCardPresent(name)) return true;
    try {
      await this.waitForRemoval(name, PRESENCE_SETTLE_MS);
      return true;
    } catch {
      return false;
    }
  }

  private waitFor<E extends keyof PcscReadersEvents>(
    event: E,
    match: (...args: PcscReadersEvents[E]) => boolean,
    timeoutMs: number,
    onTimeout: () => Error,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const listener = (...args: PcscReadersEvents[E]) => {
        if (!match(...args)) return;
        clearTimeout(timer);
        this.off(event, listener as never);
        resolve();
      };
      const timer = setTimeout(() => {
        this.off(event, listener as never);
        reject(onTimeout());
      }, timeoutMs);
      this.on(event, listener as never);
    });
  }
}

/** One exclusive connection to the card in a PC/SC reader. */
export class PcscCard implements CardTransport {
  private open = true;

  constructor(
    private readonly readers: PcscReaders,
    private readonly reader: Reader,
    readonly readerName: string,
    private readonly protocol: number,
  ) {}

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.open) throw new CardReaderError(`connection to "${this.readerName}" is closed`);
    let response: Uint8Array;
    try {
      response = await new Promise<Uint8Array>((resolve, reject) => {
        this.reader.transmit(Buffer.from(apdu), 258, this.protocol, (error, data) =>
          error ? reject(error) : resolve(new Uint8Array(data)),
        );
      });
    } catch (error) {
      const mapped = mapPcscError(error, this.readerName);
      if (mapped instanceof CardRemovedError || mapped instanceof ReaderGoneError) {
        await this.disconnect();
        throw mapped;
      }
      if (pcscCode(error) === NOT_TRANSACTED && (await this.readers.cardLeft(this.readerName))) {
        await this.disconnect();
        throw new CardRemovedError(`card removed from "${this.readerName}" during the command`);
      }
      throw mapped;
    }
    // vpcd answers an empty response when the card's link broke mid-command; a card always sends a status word.
    if (response.length < 2) {
      if (await this.readers.cardLeft(this.readerName)) {
        await this.disconnect();
        throw new CardRemovedError(`card removed from "${this.readerName}" during the command`);
      }
      throw new CardReaderError(`card in "${this.readerName}" answered ${response.length} bytes, no status word`);
    }
    return response;
  }

  /** Ends the connection and resets the card (so no secure-messaging session outlives it). */
  async disconnect(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    await new Promise<void>((resolve) => this.reader.disconnect(this.reader.SCARD_RESET_CARD, () => resolve()));
  }
}

/**
 * The card readers of a store's POS terminals, as the edge's counter uses them: each command gets a
 * fresh exclusive connection to the card in its terminal's reader. The previous connection to that
 * reader is closed first, which resets the card, so no secure-messaging session outlives its command.
 */
export function pcscTerminalReaders(
  readers: PcscReaders,
  readerOf: (terminalId: string) => string,
  waitForCardMs = 5000,
): (terminalId: string) => Promise<CardTransport> {
  const connected = new Map<string, PcscCard>();
  return async (terminalId) => {
    const name = readerOf(terminalId);
    await connected.get(name)?.disconnect();
    connected.delete(name);
    await readers.waitForCard(name, waitForCardMs);
    const card = await readers.connect(name);
    connected.set(name, card);
    return card;
  };
}
