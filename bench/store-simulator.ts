// Stands in for many stores' edges in one process, so that head office's side is measured alone:
// each simulated store connects with its own provisioned NATS credentials and inbox prefix (inside
// its own account on the hub), publishes its events as an edge's replicator does (hash-chained
// envelopes in EventBatch messages with a signed chain head, on cardsys.events.<id>, under the
// edge's Nats-Msg-Id, at most a window of batches unconfirmed, and across all stores the same
// number unconfirmed whatever their number), asks head office where it stands
// every quiet heartbeat as the replicator does, and waits for head office's StoreAcks. What an edge does
// besides (its log and fsyncs, edge.db, the POS) is left out, and the batches are made and signed
// before the clock starts, so the simulator costs little beside what it measures.
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  decodeOrThrow,
  encodeBatch,
  GENESIS_HASH,
  pb,
  sealEnvelope,
  signHead,
  type SigningKey,
  type StoreAck,
  subjects,
} from '../contracts/index.js';
import { batchMessageId } from '../edge/index.js';
import { natsTlsOptions } from '../infra/nats/index.js';
import { definedOnly } from './pipeline.js';
import { benchPay } from './pipeline-edge.js';

/** One store as provisioning made it: its signing key and its NATS user's seed. */
export interface SimulatedStore {
  storeId: string;
  signingKey: SigningKey;
  natsSeed: Uint8Array;
}

export interface StoreSimulatorOptions {
  natsUrl: string;
  /** CA of the hub's TLS certificate. */
  tlsCa?: string;
  stores: SimulatedStore[];
  /** How often each store asks head office where it stands when no StoreAck came (the replicator's heartbeat, 2 s); 0: never. */
  heartbeatMs?: number;
  /** Connections opened at once while connecting. */
  connectConcurrency?: number;
}

export interface SimulationRun {
  /** Events in all, spread evenly over the stores. */
  events: number;
  /** Events per batch (an edge under steady load sends what committed since its last batch). */
  batchEvents: number;
  /** Batches each store keeps unconfirmed at most (the replicator's window, 8). */
  window?: number;
  /**
   * Batches unconfirmed at most across all stores (default: two stores' windows). The same at every
   * number of stores, so that StoreAck latency measures head office under the same load, not the
   * queue of N windows filled at once (which makes latency grow as N × window / throughput).
   */
  inFlight?: number;
  /** Gives up when head office has not confirmed everything by then. */
  timeoutMs?: number;
}

export interface SimulationFigures {
  stores: number;
  events: number;
  batches: number;
  /** From the first publish until head office confirmed every store's last event. */
  seconds: number;
  eventsPerSecond: number;
  /** From a batch's publish until the StoreAck that confirms its last event. */
  storeAckMs: { p50: number; p99: number; max: number };
  /** The stores' sync requests (heartbeats) head office answered, and those that failed, during the run. */
  heartbeats: { answered: number; failed: number };
  /** The envelopes published, for a raw publish of the same bytes. */
  envelopes: Array<{ storeId: string; entries: Array<{ seq: number; bytes: Uint8Array }> }>;
}

interface PreparedBatch {
  first: number;
  last: number;
  data: Uint8Array;
  msgID: string;
  publishedAt?: number;
}

const DEFAULTS = { heartbeatMs: 2000, connectConcurrency: 32, window: 8, inFlight: 16, timeoutMs: 600_000 };
/** The heartbeats of all stores are spread over this many slices of one heartbeat period. */
const HEARTBEAT_SLICES = 20;

/** One simulated store's edge: its connection, its prepared batches and what head office confirmed. */
class SimulatedEdge {
  batches: PreparedBatch[] = [];
  entries: Array<{ seq: number; bytes: Uint8Array }> = [];
  private nextBatch = 0;
  private confirmedBatches = 0;
  confirmedSeq = 0;
  /** When the last StoreAck came (performance.now()): a store confirmed within a heartbeat does not ask. */
  lastAckAt = Number.NEGATIVE_INFINITY;
  private readonly js: JetStreamClient;

  constructor(
    readonly store: SimulatedStore,
    readonly nc: NatsConnection,
    private readonly hooks: { latency(ms: number): void; failed(error: Error): void; progressed(): void },
  ) {
    this.js = jetstream(nc);
    nc.subscribe(subjects.ack(store.storeId), {
      callback: (error, msg) => (error ? hooks.failed(error) : this.onAck(msg.data)),
    });
  }

  /** Makes this store's chain of `events` envelopes in batches of `batchEvents`, each batch's head signed. */
  prepare(events: number, batchEvents: number, firstPay: number): void {
    const { storeId, signingKey } = this.store;
    let prevHash = GENESIS_HASH;
    for (let first = 1; first <= events; first += batchEvents) {
      const last = Math.min(events, first + batchEvents - 1);
      const sealed = [];
      for (let seq = first; seq <= last; seq++) {
        const envelope = sealEnvelope(storeId, seq, prevHash, benchPay(firstPay + seq));
        sealed.push(envelope);
        this.entries.push({ seq, bytes: envelope.bytes });
        prevHash = envelope.hash;
      }
      const headHash = sealed.at(-1)!.hash;
      const data = encodeBatch({
        storeId,
        events: sealed.map((envelope) => envelope.bytes),
        head: signHead(signingKey, { storeId, storeSeq: last, hash: headHash }),
        localHeadSeq: events,
      });
      this.batches.push({ first, last, data, msgID: batchMessageId(storeId, { first, last, headHash }) });
    }
  }

  get done(): boolean {
    return this.confirmedBatches === this.batches.length;
  }

  /** Batches published and not yet confirmed. */
  get outstanding(): number {
    return this.nextBatch - this.confirmedBatches;
  }

  /** Publishes the next batch if there is one and the window has room. */
  publishNext(window: number): boolean {
    if (this.nextBatch >= this.batches.length || this.outstanding >= window) return false;
    const batch = this.batches[this.nextBatch++]!;
    batch.publishedAt = performance.now();
    this.js
      .publish(subjects.events(this.store.storeId), batch.data, { msgID: batch.msgID })
      .catch((error: Error) => this.hooks.failed(new Error(`store ${this.store.storeId}: publishing ${batch.msgID}: ${error.message}`)));
    return true;
  }

  private onAck(data: Uint8Array): void {
    let ack: StoreAck;
    try {
      ack = decodeOrThrow('StoreAck', () => pb.StoreAck.decode(data));
    } catch (error) {
      return this.hooks.failed(error as Error);
    }
    if (ack.resendFrom > 0)
      return this.hooks.failed(new Error(`head office refused store ${ack.storeId}'s batch from ${ack.resendFrom}: ${ack.reason}`));
    this.lastAckAt = performance.now();
    if (ack.confirmedSeq <= this.confirmedSeq) return;
    this.confirmedSeq = ack.confirmedSeq;
    const now = performance.now();
    while (this.confirmedBatches < this.nextBatch && this.batches[this.confirmedBatches]!.last <= ack.confirmedSeq) {
      this.hooks.latency(now - this.batches[this.confirmedBatches]!.publishedAt!);
      this.confirmedBatches++;
    }
    this.hooks.progressed();
  }
}

export class StoreSimulator {
  private failure: Error | undefined;
  private latencies: number[] = [];
  private heartbeats = { answered: 0, failed: 0 };
  private wake: () => void = () => {};
  private heartbeatTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: StoreSimulatorOptions,
    private readonly edges: SimulatedEdge[],
  ) {}

  /** Connects every store with its own credentials; heartbeats start at once, as an edge's do. */
  static async connect(options: StoreSimulatorOptions): Promise<StoreSimulator> {
    const { connectConcurrency } = { ...DEFAULTS, ...definedOnly(options) };
    const edges: SimulatedEdge[] = [];
    const simulator = new StoreSimulator(options, edges);
    const hooks = {
      latency: (ms: number) => simulator.latencies.push(ms),
      failed: (error: Error) => {
        simulator.failure ??= error;
        simulator.wake();
      },
      progressed: () => simulator.wake(),
    };
    const queue = [...options.stores];
    try {
      await Promise.all(
        Array.from({ length: Math.min(connectConcurrency, queue.length) }, async () => {
          for (let store = queue.shift(); store; store = queue.shift()) {
            const nc = await connect({
              servers: options.natsUrl,
              authenticator: nkeyAuthenticator(store.natsSeed),
              inboxPrefix: subjects.inbox(store.storeId),
              name: `cardsys-simulated-edge-${store.storeId}`,
              maxReconnectAttempts: -1,
              ...natsTlsOptions(options.tlsCa),
            });
            edges.push(new SimulatedEdge(store, nc, hooks));
          }
        }),
      );
    } catch (error) {
      await simulator.close();
      throw error;
    }
    simulator.startHeartbeats();
    return simulator;
  }

  /** Resolves once head office has answered a sync request of every store (its ingest runs and knows them all). */
  async untilAllAnswered(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let waiting = this.edges;
    while (waiting.length > 0) {
      if (Date.now() > deadline)
        throw new Error(`head office did not answer ${waiting.length} of ${this.edges.length} stores' sync requests`);
      const answered = await Promise.all(
        waiting.map((edge) =>
          edge.nc.request(subjects.sync(edge.store.storeId), new Uint8Array(0), { timeout: 2000 }).then(
            () => true,
            () => false,
          ),
        ),
      );
      waiting = waiting.filter((_, index) => !answered[index]);
      if (waiting.length > 0) await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Every store sends its share of `events` and waits until head office confirmed all of it. */
  async run(run: SimulationRun): Promise<SimulationFigures> {
    const { window, inFlight, timeoutMs } = { ...DEFAULTS, ...definedOnly(run) };
    const perStore = Math.floor(run.events / this.edges.length);
    const extra = run.events % this.edges.length;
    if (perStore === 0) throw new Error(`${run.events} events cannot be spread over ${this.edges.length} stores`);
    for (const [index, edge] of this.edges.entries()) edge.prepare(perStore + (index < extra ? 1 : 0), run.batchEvents, index * 1000);
    this.latencies = [];
    this.heartbeats = { answered: 0, failed: 0 };
    const started = performance.now();
    const deadline = started + timeoutMs;
    let pending = this.edges.filter((edge) => !edge.done);
    // The stores take turns to publish, one batch each, while fewer than `inFlight` are out.
    let turn = 0;
    const publish = () => {
      let outstanding = pending.reduce((sum, edge) => sum + edge.outstanding, 0);
      for (let tried = 0; outstanding < inFlight && tried < pending.length; ) {
        const edge = pending[turn++ % pending.length]!;
        if (edge.publishNext(window)) {
          outstanding++;
          tried = 0;
        } else tried++;
      }
    };
    publish();
    while (pending.length > 0) {
      if (this.failure) throw this.failure;
      if (performance.now() > deadline)
        throw new Error(
          `head office confirmed only ${this.edges.reduce((sum, edge) => sum + edge.confirmedSeq, 0)} of ${run.events} events in ${timeoutMs / 1000} s`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      pending = pending.filter((edge) => !edge.done);
      publish();
    }
    const ms = performance.now() - started;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (fraction: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0);
    return {
      stores: this.edges.length,
      events: run.events,
      batches: sorted.length,
      seconds: Math.round(ms) / 1000,
      eventsPerSecond: Math.round((run.events * 1000) / ms),
      storeAckMs: { p50: at(0.5), p99: at(0.99), max: round(sorted.at(-1) ?? 0) },
      heartbeats: { ...this.heartbeats },
      envelopes: this.edges.map((edge) => ({ storeId: edge.store.storeId, entries: edge.entries })),
    };
  }

  /** Each store asks `cardsys.hq.sync.<id>` once a heartbeat without a StoreAck, the stores spread over the period. */
  private startHeartbeats(): void {
    const { heartbeatMs } = { ...DEFAULTS, ...definedOnly(this.options) };
    if (heartbeatMs <= 0) return;
    let slice = 0;
    this.heartbeatTimer = setInterval(() => {
      const size = Math.ceil(this.edges.length / HEARTBEAT_SLICES);
      const quietSince = performance.now() - heartbeatMs;
      for (const edge of this.edges.slice(slice * size, (slice + 1) * size)) {
        if (edge.lastAckAt > quietSince) continue;
        edge.nc.request(subjects.sync(edge.store.storeId), new Uint8Array(0), { timeout: 5000 }).then(
          () => this.heartbeats.answered++,
          () => this.heartbeats.failed++,
        );
      }
      slice = (slice + 1) % HEARTBEAT_SLICES;
    }, heartbeatMs / HEARTBEAT_SLICES);
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    await Promise.all(this.edges.map((edge) => edge.nc.close().catch(() => undefined)));
  }
}

const round = (ms: number) => Math.round(ms * 10) / 10;
