// Which part a head-office instance plays among several on one event store: the leader holds the
// writer lease and runs the single-writer parts; a follower runs what only reads and watches the
// lease, taking over when it comes free. A leader steps down when it loses the lease or when its
// writer finds that another instance wrote first (fenced), and never retries its own writes.
import type { Logger } from '../../infra/index.js';
import { NotWriterError } from '../hq-writer/index.js';
import type { HeldLease, LeaseHolder, WriterLease } from './lease.js';

export interface Parts {
  stop(): Promise<void>;
}

export type Role = 'starting' | 'leader' | 'follower';

export interface LeadershipOptions<Leader extends Parts, Follower extends Parts> {
  lease: WriterLease;
  /** Starts the single-writer parts for a term; they call `fenced` when another writer got in first. */
  lead(holder: LeaseHolder, fenced: (reason: string) => void): Promise<Leader>;
  /** Starts what a follower runs meanwhile (stopped when it takes over). */
  follow(): Promise<Follower>;
  logger: Logger;
  /** How often a follower tries for the lease. */
  pollMs?: number;
}

/** What /healthz shows of this instance's part. */
export interface LeadershipStatus {
  role: Role;
  instance: string | null;
  lease: { holder: LeaseHolder | null };
}

const DEFAULT_POLL_MS = 1000;
/** After stepping down, a former leader waits this many polls before trying again, leaving the lease to the others. */
const STEP_DOWN_POLLS = 3;

export class Leadership<Leader extends Parts, Follower extends Parts> {
  private role: Role = 'starting';
  private me: { instance: string; apiUrl: string } | undefined;
  private held: HeldLease | undefined;
  private leaderParts: Leader | undefined;
  /** The parts reads use: the leader's, or the follower's. */
  private readParts: Leader | Follower | undefined;
  private followerParts: Follower | undefined;
  private knownHolder: LeaseHolder | undefined;
  private fence: Deferred<string> | undefined;
  private stopping = deferred<string>();
  private stopped = false;
  private loop: Promise<void> | undefined;
  private lastTrouble = '';
  private readonly pollMs: number;

  constructor(private readonly options: LeadershipOptions<Leader, Follower>) {
    this.pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  }

  /** Takes the lease if it is free (then leads before returning), else follows; then keeps watching. */
  async start(me: { instance: string; apiUrl: string }): Promise<void> {
    this.me = me;
    const held = await this.options.lease.tryAcquire(me);
    if (held) await this.takeOver(held);
    else {
      this.knownHolder = await this.options.lease.holder();
      await this.startFollowing();
      const holder = this.knownHolder;
      this.options.logger.info(
        `leadership: this instance follows; the writer is ${holder ? `${holder.instance} at ${holder.apiUrl} (term ${holder.term})` : 'starting'}`,
      );
    }
    this.loop = this.watch();
  }

  get currentRole(): Role {
    return this.role;
  }

  /** The single-writer parts; throws NotWriterError (503, naming the leader) where this instance does not lead. */
  leader(): Leader {
    if (this.role === 'leader' && this.leaderParts) return this.leaderParts;
    throw this.notWriter();
  }

  /** The parts that serve reads now, the leader's or the follower's. */
  reads(): Leader | Follower {
    if (this.readParts) return this.readParts;
    throw new NotWriterError('head office is starting: retry in a moment');
  }

  status(): LeadershipStatus {
    return {
      role: this.role,
      instance: this.me?.instance ?? null,
      lease: { holder: this.knownHolder ?? null },
    };
  }

  private notWriter(): NotWriterError {
    const holder = this.knownHolder;
    if (this.role === 'starting') return new NotWriterError('head office is starting: retry in a moment');
    if (!holder || holder.apiUrl === this.me?.apiUrl) {
      return new NotWriterError('no head-office instance holds the writer lease right now (a takeover takes a few seconds): retry');
    }
    return new NotWriterError(
      `this head-office instance (${this.me?.instance}) follows; the writer is ${holder.instance} at ${holder.apiUrl} (term ${holder.term}): send writes there`,
      holder.apiUrl,
    );
  }

  private async watch(): Promise<void> {
    while (!this.stopped) {
      if (this.role === 'leader') {
        const reason = await Promise.race([this.held!.lost, this.fence!.promise, this.stopping.promise]);
        if (this.stopped) return;
        this.options.logger.warn(`leadership: stepping down from the writer (term ${this.knownHolder?.term}): ${reason}`);
        await this.stepDown();
        await this.pause(STEP_DOWN_POLLS * this.pollMs);
        continue;
      }
      await this.pause(this.pollMs);
      if (this.stopped) return;
      try {
        if (!this.followerParts) await this.startFollowing();
        const held = await this.options.lease.tryAcquire(this.me!);
        if (held) await this.takeOver(held);
        else this.knownHolder = await this.options.lease.holder();
        this.lastTrouble = '';
      } catch (error) {
        const trouble = (error as Error).message;
        // Told once, not at every poll, until it changes.
        if (trouble !== this.lastTrouble) this.options.logger.error(`leadership: ${trouble}; trying again every ${this.pollMs} ms`);
        this.lastTrouble = trouble;
      }
    }
  }

  private async takeOver(held: HeldLease): Promise<void> {
    this.held = held;
    this.knownHolder = held.holder;
    const fence = deferred<string>();
    let parts: Leader;
    try {
      parts = await this.options.lead(held.holder, fence.resolve);
    } catch (error) {
      this.held = undefined;
      await held.release();
      throw new Error(`cannot start the writer's parts: ${(error as Error).message}`);
    }
    this.fence = fence;
    this.leaderParts = parts;
    this.readParts = parts;
    this.role = 'leader';
    this.options.logger.info(`leadership: this instance writes (term ${held.holder.term})`);
    const follower = this.followerParts;
    this.followerParts = undefined;
    await follower?.stop();
  }

  /** Writes are refused at once; the writer's parts stop before the lease is given up and the follower's start. */
  private async stepDown(): Promise<void> {
    const parts = this.leaderParts;
    this.role = 'follower';
    this.leaderParts = undefined;
    this.knownHolder = undefined;
    await parts
      ?.stop()
      .catch((error: Error) => this.options.logger.warn(`leadership: while stopping the writer's parts: ${error.message}`));
    await this.held?.release();
    this.held = undefined;
    await this.startFollowing().catch((error: Error) =>
      this.options.logger.error(`leadership: cannot start following yet: ${error.message}`),
    );
  }

  private async startFollowing(): Promise<void> {
    this.followerParts = await this.options.follow();
    this.readParts = this.followerParts;
    this.role = 'follower';
  }

  private pause(ms: number): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([new Promise((resolve) => (timer = setTimeout(resolve, ms))), this.stopping.promise]).finally(() =>
      clearTimeout(timer),
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.stopping.resolve('stopping');
    await this.loop;
    const parts = [this.leaderParts, this.followerParts];
    this.leaderParts = this.followerParts = undefined;
    for (const part of parts) await part?.stop();
    await this.held?.release();
    this.held = undefined;
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
