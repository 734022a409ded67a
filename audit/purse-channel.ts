// Where the replay hands purse events: the purse checks in this thread, or in a worker thread
// beside the chain checks (what the CLI and the benchmark use: it takes the purse's cost off the
// thread that reads and hashes).
import { Worker } from 'node:worker_threads';
import type { IssuerMasterKeys } from '../card/index.js';
import type { ChainedEvent } from './chain-check.js';
import type { Finding } from './findings.js';
import { PurseAuditor, PURSE_EVENT_TYPES, type PurseSummary } from './purse-check.js';
import { siblingModule, workerSource } from '../infra/index.js';

export interface PurseWorkerData {
  issuerKeys: IssuerMasterKeys | undefined;
  fromGenesis: boolean;
}

/**
 * Per event, in `meta`: seq, position, payload offset, payload length, origin index, occurred-at
 * (ms), event type index. The chain checks have read the envelope already: the worker gets the
 * fields the purse checks read, not the envelope to read again.
 */
export const META_FIELDS = 7;

/** One packed batch of purse events: their payloads' bytes and where each lies. */
export interface PurseEventsMessage {
  kind: 'events';
  origins: string[];
  eventTypes: string[];
  eventIds: string[];
  meta: Float64Array;
  bytes: Uint8Array;
}

export type PurseWorkerCommand = PurseEventsMessage | { kind: 'finish'; debitsComplete: boolean };
type DoneReply = { kind: 'done'; summary: PurseSummary; findings: Finding[] };
export type PurseWorkerReply = { kind: 'applied' } | DoneReply | { kind: 'failed'; message: string };

export interface PurseChannel {
  /** An event in its origin's sequence order. */
  onEvent(event: ChainedEvent): void;
  /** End of a batch of records: a worker gets what was collected. */
  flush(): Promise<void>;
  finish(debitsComplete: boolean): Promise<{ summary: PurseSummary; findings: Finding[] }>;
  /** Releases the worker, if any, whether or not finish() was reached. */
  close(): Promise<void>;
}

export function inThreadPurse(issuerKeys: IssuerMasterKeys | undefined, fromGenesis: boolean): PurseChannel {
  const findings: Finding[] = [];
  const purse = new PurseAuditor((finding) => void findings.push(finding), issuerKeys, fromGenesis);
  return {
    onEvent: (event) => purse.onEvent(event),
    flush: async () => undefined,
    finish: async (debitsComplete) => ({ summary: purse.finish(debitsComplete), findings }),
    close: async () => undefined,
  };
}

/**
 * Batches sent and not yet applied by the worker, at most: enough for the replay to read on while
 * the worker is still loading its modules (some tens of MB of payloads at 10,000 events a batch).
 */
const MAX_IN_FLIGHT = 16;

export function workerPurse(issuerKeys: IssuerMasterKeys | undefined, fromGenesis: boolean): PurseChannel {
  const worker = new Worker(workerSource(siblingModule('purse-worker', import.meta.url)), {
    eval: true,
    // Each event leaves short-lived decoded objects: a larger young generation collects them less often.
    resourceLimits: { maxYoungGenerationSizeMb: 64 },
    workerData: { issuerKeys, fromGenesis } satisfies PurseWorkerData,
  });
  let failure: Error | undefined;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  let result: DoneReply | undefined;
  worker.on('message', (reply: PurseWorkerReply) => {
    if (reply.kind === 'applied') inFlight -= 1;
    else if (reply.kind === 'failed') failure = new Error(`purse checks failed: ${reply.message}`);
    else result = reply;
    wake?.();
  });
  worker.on('error', (error) => {
    failure = error;
    wake?.();
  });
  const waitFor = (condition: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (failure) return reject(failure);
        if (condition()) return resolve();
        wake = check;
      };
      check();
    });

  const origins = new Names();
  const eventTypes = new Names();
  let eventIds: string[] = [];
  let meta: number[] = [];
  let chunks: Uint8Array[] = [];
  let size = 0;
  return {
    onEvent(event) {
      const envelope = event.envelope;
      if (envelope === undefined || !PURSE_EVENT_TYPES.has(envelope.eventType)) return;
      const payload = envelope.payload;
      // META_FIELDS
      meta.push(
        event.seq,
        Number(event.position),
        size,
        payload.length,
        origins.index(event.origin),
        envelope.occurredAtMs,
        eventTypes.index(envelope.eventType),
      );
      eventIds.push(event.eventId);
      chunks.push(payload);
      size += payload.length;
    },
    async flush() {
      if (meta.length === 0) return;
      const packed = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        packed.set(chunk, at);
        at += chunk.length;
      }
      const metaArray = Float64Array.from(meta);
      const message: PurseWorkerCommand = {
        kind: 'events',
        origins: origins.list(),
        eventTypes: eventTypes.list(),
        eventIds,
        meta: metaArray,
        bytes: packed,
      };
      worker.postMessage(message, [metaArray.buffer as ArrayBuffer, packed.buffer as ArrayBuffer]);
      inFlight += 1;
      meta = [];
      eventIds = [];
      chunks = [];
      size = 0;
      await waitFor(() => inFlight < MAX_IN_FLIGHT);
    },
    async finish(debitsComplete) {
      await this.flush();
      worker.postMessage({ kind: 'finish', debitsComplete } satisfies PurseWorkerCommand);
      await waitFor(() => result !== undefined);
      return { summary: result!.summary, findings: result!.findings };
    },
    async close() {
      await worker.terminate();
    },
  };
}

/** A few names (origins, event types) sent by index. */
class Names {
  private readonly names: string[] = [];
  private readonly indexes = new Map<string, number>();

  index(name: string): number {
    let index = this.indexes.get(name);
    if (index === undefined) {
      index = this.names.push(name) - 1;
      this.indexes.set(name, index);
    }
    return index;
  }

  list(): string[] {
    return [...this.names];
  }
}
