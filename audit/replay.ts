// Replay and verify: the checks of verify.ts over a source, in this thread or in a worker thread
// while this one reads. A replay costs the source's read (SQLite or an export file) plus the
// checks; with the worker the two run on two cores at once. Each batch goes over packed
// (packed-batch.ts), a few batches read ahead and no more: on a machine whose other core is busy
// the two threads take turns on one, and the replay costs what it does in one thread plus the
// packing.
import { Worker } from 'node:worker_threads';
import { siblingModule, workerSource } from '../infra/index.js';
import type { Finding } from './findings.js';
import { BatchPacker, type VerifyWorkerCommand, type VerifyWorkerData, type VerifyWorkerReply } from './packed-batch.js';
import { verifyRecords, type VerifiedHistory, type VerifyOptions } from './verify.js';

export interface ReplayOptions extends VerifyOptions {
  /**
   * Run the checks in a worker thread while this thread reads the source (default: in this
   * thread): reading and checking then take a core each.
   */
  inWorker?: boolean;
  /** Extra checks once the events are verified (e.g. the read-model comparison). */
  afterReplay?: () => Promise<{ findings: Finding[]; notes: string[] }>;
}

export interface ReplayResult extends VerifiedHistory {
  ok: boolean;
  /** The replay's time, the read-model comparison (afterReplay) not included. */
  seconds: number;
  eventsPerSecond: number;
}

export async function replayAndVerify(options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const verified = options.inWorker ? await verifyInWorker(options) : await verifyRecords(options);
  const seconds = (performance.now() - started) / 1000;
  if (options.afterReplay) {
    const after = await options.afterReplay();
    verified.findings.push(...after.findings);
    verified.notes.push(...after.notes);
  }
  return {
    ...verified,
    ok: verified.findings.length === 0,
    seconds,
    eventsPerSecond: seconds > 0 ? Math.round(verified.events / seconds) : verified.events,
  };
}

/** Batches read and not yet checked, at most. */
const READ_AHEAD = 3;

async function verifyInWorker(options: ReplayOptions): Promise<VerifiedHistory> {
  const data: VerifyWorkerData = {
    keys: options.keys.list(),
    registeredKeys: options.fromGenesis ? [] : await options.source.registeredKeys(),
    issuerKeys: options.issuerKeys,
    fromGenesis: options.fromGenesis,
    total: await options.source.total(),
  };
  const worker = new Worker(workerSource(siblingModule('verify-worker', import.meta.url)), {
    eval: true,
    workerData: data,
    // Each record leaves short-lived objects behind: a larger young generation collects them less
    // often (8 % less time than the default, measured against the same history).
    resourceLimits: { maxYoungGenerationSizeMb: 128 },
  });
  let failure: Error | undefined;
  let sent = 0;
  let checked = 0;
  let history: VerifiedHistory | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (reply: VerifyWorkerReply) => {
    if (reply.kind === 'verified') {
      checked += 1;
      options.onProgress?.(reply.records, data.total);
    } else if (reply.kind === 'failed') failure = new Error(`the audit's checks failed: ${reply.message}`);
    else history = reply.verified;
    wake?.();
  });
  worker.on('error', (error) => {
    failure = error;
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= history === undefined ? new Error(`the audit's checks stopped (worker exit code ${code})`) : undefined;
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
  try {
    const packer = new BatchPacker();
    for await (const batch of options.source.batches()) {
      const packed = packer.pack(batch);
      worker.postMessage(packed, [packed.meta.buffer as ArrayBuffer, packed.bytes.buffer as ArrayBuffer]);
      sent += 1;
      await waitFor(() => sent - checked < READ_AHEAD);
    }
    const end: VerifyWorkerCommand = {
      kind: 'end',
      openEnd: options.source.openEnd,
      integrityFindings: options.source.integrityFindings(),
    };
    worker.postMessage(end);
    await waitFor(() => history !== undefined);
    return history!;
  } finally {
    await worker.terminate();
  }
}
