// The edge's line to head office for the purse: inquiry centre requests, and whether the line is up
// at all (so offline work such as a pay never waits on a timeout).
import { RequestError, type NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, pb, subjects, type cardsys } from '../../contracts/index.js';

/** How long to wait before asking again a request nobody was there to take. */
const NO_RESPONDERS_PAUSE_MS = 100;

export class HeadOfficeUnreachableError extends Error {
  override name = 'HeadOfficeUnreachableError';
}

export type InquiryReply = cardsys.v1.InquiryReply;
type InquiryKind = Pick<
  cardsys.v1.InquiryRequest.$Properties,
  'authorise' | 'pending' | 'release' | 'refund' | 'refundRelease' | 'pinUnblock' | 'unload'
>;

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

  /**
   * One request to head office's inquiry centre, asked again up to `attempts` times when no answer
   * comes within the timeout. A request nobody was there to take (no responders: the store's
   * broker is joining another hub node, or head office's responder is reconnecting) is asked again
   * at once and does not use up an attempt, within the time the attempts would take; every request
   * is one head office answers the same however often it comes (an authorisation by its id).
   * `waitForResponders: false` takes nobody there as unreachable at once: the store's broker stays
   * up while its WAN link is down, so only this tells an offline store from an online one.
   */
  async inquire(
    terminalId: string,
    kind: InquiryKind,
    options: { attempts?: number; waitForResponders?: boolean } = {},
  ): Promise<InquiryReply> {
    const bytes = pb.InquiryRequest.encode({ storeId: this.storeId, terminalId, ...kind }).finish();
    const attempts = options.attempts ?? 1;
    const deadline = Date.now() + attempts * this.timeoutMs;
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < attempts; ) {
      const nc = this.connection;
      if (!nc) throw new HeadOfficeUnreachableError('head office cannot be reached: the store is offline');
      try {
        const message = await nc.request(subjects.inquiry(this.storeId), bytes, { timeout: this.timeoutMs });
        return decodeOrThrow('InquiryReply', () => pb.InquiryReply.decode(message.data));
      } catch (error) {
        lastError = error as Error;
        const nobodyThere = error instanceof RequestError && error.isNoResponders();
        if (nobodyThere && options.waitForResponders !== false && Date.now() + NO_RESPONDERS_PAUSE_MS < deadline) {
          await new Promise((resolve) => setTimeout(resolve, NO_RESPONDERS_PAUSE_MS));
          continue;
        }
        attempt++;
      }
    }
    throw new HeadOfficeUnreachableError(`head office did not answer: ${lastError?.message ?? 'unknown error'}`);
  }
}
