// The edge's line to head office for the purse: inquiry centre requests, and whether the line is up
// at all (so offline work such as a pay never waits on a timeout).
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, pb, subjects, type cardsys } from '../../contracts/index.js';

export class HeadOfficeUnreachableError extends Error {
  override name = 'HeadOfficeUnreachableError';
}

export type InquiryReply = cardsys.v1.InquiryReply;
type InquiryKind = Pick<cardsys.v1.InquiryRequest.$Properties, 'authorise' | 'pending' | 'release'>;

export class HeadOfficeLink {
  private nc: NatsConnection | undefined;
  private up = false;
  private readonly upListeners = new Set<() => void>();

  constructor(
    private readonly storeId: string,
    private readonly timeoutMs = 5_000,
  ) {}

  /** Starts using a connection and follows its state. */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    this.up = !nc.isClosed();
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === 'disconnect' || status.type === 'close') this.up = false;
        else if (status.type === 'reconnect') {
          this.up = true;
          for (const listener of this.upListeners) listener();
        }
      }
    })();
    for (const listener of this.upListeners) listener();
  }

  get connection(): NatsConnection | undefined {
    return this.up ? this.nc : undefined;
  }

  get online(): boolean {
    return this.up && this.nc !== undefined && !this.nc.isClosed();
  }

  /** Called when the line comes up (first attach and every reconnect). */
  onUp(listener: () => void): void {
    this.upListeners.add(listener);
  }

  async inquire(terminalId: string, kind: InquiryKind, options: { attempts?: number } = {}): Promise<InquiryReply> {
    const bytes = pb.InquiryRequest.encode({ storeId: this.storeId, terminalId, ...kind }).finish();
    const attempts = options.attempts ?? 1;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const nc = this.connection;
      if (!nc) throw new HeadOfficeUnreachableError('head office cannot be reached: the store is offline');
      try {
        const message = await nc.request(subjects.inquiry(this.storeId), bytes, { timeout: this.timeoutMs });
        return decodeOrThrow('InquiryReply', () => pb.InquiryReply.decode(message.data));
      } catch (error) {
        lastError = error as Error;
      }
    }
    throw new HeadOfficeUnreachableError(`head office did not answer: ${lastError?.message ?? 'unknown error'}`);
  }
}
