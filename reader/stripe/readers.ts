import { readFile } from 'node:fs/promises';
import { createInterface, type Interface } from 'node:readline';
import type { Readable } from 'node:stream';
import { writeFileAtomic } from '../../card/virtual/index.js';
import { decodeTrack2, encodeTrack2, StripeDataError, type Track2 } from './track2.js';

/** A magnetic stripe reader: one swipe, one decoded track 2. */
export interface StripeReader {
  read(options?: { timeoutMs?: number }): Promise<Track2>;
}

/** A keyboard-wedge reader: each swipe arrives as one line of text on an input stream. */
export class KeyboardWedgeStripeReader implements StripeReader {
  private readonly lines: Interface;
  private readonly queued: string[] = [];
  private readonly waiting: Array<(line: string | undefined) => void> = [];
  private closed = false;

  constructor(input: Readable) {
    this.lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
    this.lines.on('line', (line) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(line);
      else this.queued.push(line);
    });
    this.lines.on('close', () => {
      this.closed = true;
      for (const waiter of this.waiting.splice(0)) waiter(undefined);
    });
  }

  async read(options: { timeoutMs?: number } = {}): Promise<Track2> {
    const line = this.queued.shift() ?? (await this.nextLine(options.timeoutMs));
    return decodeTrack2(line);
  }

  close(): void {
    this.lines.close();
  }

  private nextLine(timeoutMs: number | undefined): Promise<string> {
    if (this.closed) return Promise.reject(new StripeDataError('stripe reader input is closed'));
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.waiting.splice(this.waiting.indexOf(waiter), 1);
              reject(new StripeDataError(`no swipe within ${timeoutMs} ms`));
            }, timeoutMs);
      const waiter = (line: string | undefined) => {
        clearTimeout(timer);
        if (line === undefined) reject(new StripeDataError('stripe reader input closed before a swipe'));
        else resolve(line);
      };
      this.waiting.push(waiter);
    });
  }
}

/** The virtual card's stripe: a track 2 line kept beside its state file. */
export function virtualStripeFile(cardStateFile: string): string {
  return `${cardStateFile}.track2`;
}

/** Writes (encodes) the stripe of a virtual card, as head office does at primary issuance. */
export function writeVirtualStripe(cardStateFile: string, track: Track2): string {
  const line = encodeTrack2(track);
  writeFileAtomic(virtualStripeFile(cardStateFile), `${line}\n`);
  return line;
}

/** Reads the stripe of a virtual card (the companion of its state file). */
export class VirtualStripeReader implements StripeReader {
  constructor(private readonly cardStateFile: string) {}

  async read(): Promise<Track2> {
    const file = virtualStripeFile(this.cardStateFile);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new StripeDataError(
        `no stripe data for this card (${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
    return decodeTrack2(text);
  }
}
