// Moves a store's committed log to JetStream in signed batches and keeps every event unconfirmed
// until head office says (StoreAck) that the event is in the host event store.
import { EventEmitter } from 'node:events';
import type { Database } from 'better-sqlite3';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { decodeOrThrow, encodeBatch, pb, subjects, type StoreAck } from '../../contracts/index.js';
import { hashEnvelope, signHead, type SigningKey } from '../../contracts/index.js';
import type { EventLog } from '../log/index.js';
import { ReplicationCursor } from './replication-cursor.js';
import type { Logger } from '../../infra/index.js';
import { toHex } from '../../card/index.js';

export interface ReplicatorOptions {
  log: EventLog;
  db: Database;
  signingKey: SigningKey;
  logger?: Logger;
  /** Largest batch, counting envelope bytes (the first envelope always goes). */
  maxBatchBytes?: number;
  maxBatchEvents?: number;
  /** Batches sent but not yet confirmed by head office. */
  window?: number;
  /**
   * With batches out and no confirmation for this long, send them again (the same bytes under the
   * same msgIDs, which JetStream drops if it holds them already) and ask head office where it
   * stands; each further stall without progress waits twice as long, up to 16 times this.
   */
  stallMs?: number;
  /** Back-off after a failed publish: doubles from initialBackoffMs up to maxBackoffMs, with jitter. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  publishTimeoutMs?: number;
  /**
   * How often to ask head office where it stands when all is quiet (0: never): head office sees the
   * store alive. Not while StoreAcks come: they say it already, and a chain's stores all asking at
   * their busiest would cost head office the most when it has the least to spare.
   */
  heartbeatMs?: number;
}

export interface ReplicationProgress {
  /** Every event up to here is in the host event store. */
  confirmedSeq: number;
  headSeq: number;
  /** Committed locally, not yet confirmed by head office. */
  unconfirmed: number;
  connected: boolean;
  lastError?: string;
}

export interface InFlightBatch {
  first: number;
  last: number;
  /** Hash of the batch's last event, which its signed head covers. */
  headHash: Uint8Array;
}

/** A batch as published: kept until confirmed, so that a stall sends the very same message again. */
interface SentBatch extends InFlightBatch {
  data: Uint8Array;
  msgId: string;
}

/** A stall's wait grows (doubling) up to this many times stallMs. */
const MAX_STALL_BACKOFF = 16;
/**
 * Stalls answered by the same batches under the same msgIDs before, if head office answers that it
 * still has not seen them, they go out under new ones (a new send round): JetStream may hold them
 * as duplicates of messages head office will only get after its ack wait (an ingest that died
 * holding them). While head office does not answer, the same msgIDs go on, the wait growing.
 */
const SAME_ID_RESENDS = 2;

const DEFAULTS = {
  maxBatchBytes: 512 * 1024,
  maxBatchEvents: 4000,
  window: 8,
  stallMs: 5000,
  initialBackoffMs: 100,
  maxBackoffMs: 5000,
  publishTimeoutMs: 5000,
  heartbeatMs: 2000,
};

/** A batch's Nats-Msg-Id: the store, its range, the hash of its last event and, after a rewind, the send round. */
export function batchMessageId(storeId: string, batch: InFlightBatch, sendRound = 0): string {
  const id = `${storeId}:${batch.first}-${batch.last}:${toHex(batch.headHash.subarray(0, 16))}`;
  return sendRound === 0 ? id : `${id}:r${sendRound}`;
}

export class Replicator extends EventEmitter<{ progress: [ReplicationProgress] }> {
  private readonly settings: typeof DEFAULTS;
  private readonly logger: Logger;
  private readonly cursor: ReplicationCursor;
  private readonly storeId: string;
  private confirmed: number;
  private nextSeq: number;
  private inFlight: SentBatch[] = [];
  /** Stalls since the last progress, each answered by sending the batches out again. */
  private stallResends = 0;
  /**
   * Counts rewinds. A batch sent again after a rewind gets it in its msgID: JetStream would drop a
   * re-send under the original msgID for its whole duplicate window, even when head office had
   * refused the original.
   */
  private sendRound = 0;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private ackSubscription: Subscription | undefined;
  private connected = false;
  private running = false;
  private failures = 0;
  private backoffTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastProgressAt = Date.now();
  private syncing = false;
  /** StoreAcks received on the ack subject, so a sync answer can tell whether one came while it was asked. */
  private acksReceived = 0;
  private lastAckAt = 0;
  private lastError: string | undefined;
  private readonly stopCommitListener: () => void;

  constructor(private readonly options: ReplicatorOptions) {
    super();
    this.settings = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([key, value]) => key in DEFAULTS && value !== undefined)),
    };
    this.logger = options.logger ?? console;
    this.storeId = options.log.storeId;
    this.cursor = new ReplicationCursor(options.db);
    this.confirmed = this.cursor.confirmedSeq;
    if (this.confirmed > options.log.headSeq) {
      this.logger.error(
        `replicator ${this.storeId}: confirmed sequence ${this.confirmed} is beyond the local log head ${options.log.headSeq}`,
      );
    }
    this.nextSeq = this.confirmed + 1;
    this.stopCommitListener = options.log.onCommit(() => {
      this.pump();
      this.emitProgress();
    });
    this.lastError = 'not connected to NATS yet';
  }

  /** Starts replicating over an open connection (made with the store's inbox prefix). */
  start(nc: NatsConnection): void {
    if (this.running) throw new Error(`replicator ${this.storeId} already started`);
    this.running = true;
    this.nc = nc;
    this.js = jetstream(nc, { timeout: this.settings.publishTimeoutMs });
    this.connected = !nc.isClosed();
    this.lastError = undefined;
    this.ackSubscription = nc.subscribe(subjects.ack(this.storeId), {
      callback: (error, msg) => {
        if (error) return this.fail(`ack subscription: ${error.message}`);
        this.acksReceived++;
        this.lastAckAt = Date.now();
        this.onAck(msg.data, 'ack');
      },
    });
    void this.watchConnection(nc);
    this.stallTimer = setInterval(() => this.checkStall(), Math.max(50, this.settings.stallMs / 2));
    const { heartbeatMs } = this.settings;
    if (heartbeatMs > 0)
      this.heartbeatTimer = setInterval(() => {
        if (Date.now() - this.lastAckAt >= heartbeatMs) void this.sync();
      }, heartbeatMs);
    void this.sync();
    this.pump();
  }

  progress(): ReplicationProgress {
    const headSeq = this.options.log.headSeq;
    return {
      confirmedSeq: this.confirmed,
      headSeq,
      unconfirmed: Math.max(0, headSeq - this.confirmed),
      connected: this.connected,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
    };
  }

  /** Resolves once head office has confirmed every event up to `seq`. */
  whenConfirmed(seq: number): Promise<void> {
    if (this.confirmed >= seq) return Promise.resolve();
    return new Promise((resolve) => {
      const listener = (progress: ReplicationProgress) => {
        if (progress.confirmedSeq < seq) return;
        this.off('progress', listener);
        resolve();
      };
      this.on('progress', listener);
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopCommitListener();
    clearTimeout(this.backoffTimer);
    clearInterval(this.stallTimer);
    clearInterval(this.heartbeatTimer);
    this.ackSubscription?.unsubscribe();
  }

  private async watchConnection(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        this.connected = false;
        this.fail('disconnected from NATS');
      } else if (status.type === 'reconnect') {
        this.connected = true;
        this.logger.info(`replicator ${this.storeId}: reconnected to NATS, asking head office where it stands`);
        void this.sync();
        this.pump();
      }
    }
    this.connected = false;
  }

  /**
   * Sends batches while the window has room and there are committed events not yet sent. While a
   * batch is out, a partial one waits for head office's confirmation (as Nagle's algorithm does):
   * under load batches grow instead of multiplying, and head office commits fewer, larger appends.
   */
  private pump(): void {
    if (!this.running || !this.js || this.backoffTimer) return;
    while (this.inFlight.length < this.settings.window && this.nextSeq <= this.options.log.headSeq) {
      const unsent = this.options.log.headSeq - this.nextSeq + 1;
      if (this.inFlight.length > 0 && unsent < this.settings.maxBatchEvents) return;
      const entries = this.options.log.read(this.nextSeq, this.settings.maxBatchEvents, this.settings.maxBatchBytes);
      const headHash = hashEnvelope(entries.at(-1)!.bytes);
      const range = { first: entries[0]!.seq, last: entries.at(-1)!.seq, headHash };
      const head = signHead(this.options.signingKey, { storeId: this.storeId, storeSeq: range.last, hash: headHash });
      const data = encodeBatch({
        storeId: this.storeId,
        events: entries.map((entry) => entry.bytes),
        head,
        localHeadSeq: this.options.log.headSeq,
      });
      const batch: SentBatch = { ...range, data, msgId: this.messageId(range) };
      this.inFlight.push(batch);
      this.nextSeq = batch.last + 1;
      if (this.inFlight.length === 1) this.lastProgressAt = Date.now();
      this.publish(batch);
    }
  }

  private publish(batch: SentBatch): void {
    this.js!.publish(subjects.events(this.storeId), batch.data, { msgID: batch.msgId }).then(
      () => {
        this.failures = 0;
      },
      (error: Error) => this.onPublishFailed(batch, error),
    );
  }

  /** A stall: every batch out goes again as it was sent, and the next stall is waited for twice as long. */
  private resendInFlight(): void {
    if (!this.running || !this.js || this.backoffTimer) return;
    this.stallResends++;
    this.lastProgressAt = Date.now();
    this.logger.info(
      `replicator ${this.storeId}: no confirmation for ${this.inFlight.length} batch(es) from ${this.inFlight[0]!.first}; sending them again under the same msgIDs`,
    );
    for (const batch of this.inFlight) this.publish(batch);
  }

  /**
   * The batch's Nats-Msg-Id. JetStream's duplicate window is one for the whole events stream, so
   * the id carries the hash of the batch's last event: no other store can publish it first and have
   * this batch dropped as a duplicate (it cannot know the hash), and a `duplicate` answer means these
   * very bytes are in the stream already.
   */
  private messageId(batch: InFlightBatch): string {
    return batchMessageId(this.storeId, batch, this.sendRound);
  }

  private onPublishFailed(batch: SentBatch, error: Error): void {
    if (!this.running || !this.inFlight.includes(batch)) return;
    this.fail(`publishing ${batch.first}-${batch.last} failed: ${error.message}`);
    this.rewind(batch.first);
    this.failures++;
    const ceiling = Math.min(this.settings.maxBackoffMs, this.settings.initialBackoffMs * 2 ** (this.failures - 1));
    const delay = ceiling / 2 + (Math.random() * ceiling) / 2;
    clearTimeout(this.backoffTimer);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      this.pump();
    }, delay);
  }

  private onAck(data: Uint8Array, from: 'ack' | 'sync' | 'stale-sync'): void {
    const fromSync = from !== 'ack';
    let ack: StoreAck;
    try {
      ack = decodeOrThrow('StoreAck', () => pb.StoreAck.decode(data));
    } catch (error) {
      return this.fail((error as Error).message);
    }
    if (ack.storeId !== this.storeId) return this.fail(`StoreAck for store "${ack.storeId}" on this store's subject`);
    const before = this.confirmed;
    const headSeq = this.options.log.headSeq;
    if (ack.confirmedSeq > headSeq) {
      this.fail(`head office confirms sequence ${ack.confirmedSeq}, beyond the local log head ${headSeq}`);
    } else if (ack.confirmedSeq > this.confirmed) {
      this.setConfirmed(ack.confirmedSeq);
    } else if (from === 'sync' && ack.confirmedSeq < this.confirmed) {
      this.logger.warn(
        `replicator ${this.storeId}: head office has only up to ${ack.confirmedSeq}, below the local cursor ${this.confirmed}; sending again from there`,
      );
      this.setConfirmed(ack.confirmedSeq);
      this.rewind(ack.confirmedSeq + 1);
    }
    if (ack.resendFrom > 0) {
      this.fail(`head office asks to resend from ${ack.resendFrom}: ${ack.reason}`);
      if (!this.inFlight.some((batch) => batch.first === ack.resendFrom)) this.rewind(ack.resendFrom);
    } else if (fromSync && this.confirmed === before && this.inFlight.length > 0 && this.stallResends >= SAME_ID_RESENDS) {
      // Head office answers, but what is out has not reached it though sent again under the same msgIDs.
      this.rewind(this.confirmed + 1);
    } else if (this.confirmed > before) {
      this.lastError = undefined;
    }
    this.pump();
    this.emitProgress();
  }

  private setConfirmed(seq: number): void {
    this.confirmed = seq;
    this.stallResends = 0;
    this.cursor.confirmedSeq = seq;
    this.lastProgressAt = Date.now();
    this.inFlight = this.inFlight.filter((batch) => batch.last > seq);
    if (this.nextSeq <= seq) this.nextSeq = seq + 1;
  }

  private rewind(from: number): void {
    this.inFlight = [];
    this.stallResends = 0;
    this.sendRound++;
    this.nextSeq = Math.max(from, this.confirmed + 1);
    this.lastProgressAt = Date.now();
  }

  private checkStall(): void {
    if (this.inFlight.length === 0) return;
    const wait = this.settings.stallMs * Math.min(MAX_STALL_BACKOFF, 2 ** this.stallResends);
    if (Date.now() - this.lastProgressAt < wait) return;
    this.resendInFlight();
    void this.sync();
  }

  /** Asks head office where it stands (cardsys.hq.sync.<storeId>). */
  private async sync(): Promise<void> {
    if (!this.running || !this.nc || this.syncing) return;
    this.syncing = true;
    const acksBefore = this.acksReceived;
    try {
      const reply = await this.nc.request(subjects.sync(this.storeId), new Uint8Array(0), {
        timeout: Math.max(500, this.settings.stallMs),
      });
      // A StoreAck handled while the question was out may be newer than the answer (a reply resolves
      // a promise, so it can be handled after an ack that arrived behind it): then the answer cannot
      // say that head office holds less than the acks did.
      this.onAck(reply.data, acksBefore === this.acksReceived ? 'sync' : 'stale-sync');
    } catch (error) {
      // Head office is not answering: what was published waits in JetStream, so keep waiting.
      this.lastProgressAt = Date.now();
      this.fail(`head office did not answer the sync request: ${(error as Error).message}`);
    } finally {
      this.syncing = false;
    }
  }

  private fail(message: string): void {
    if (!this.running) return;
    if (message !== this.lastError) this.logger.warn(`replicator ${this.storeId}: ${message}`);
    this.lastError = message;
    this.emitProgress();
  }

  private emitProgress(): void {
    this.emit('progress', this.progress());
  }
}
