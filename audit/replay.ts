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
import { verifyRecords, type ReplayResult, type VerifyOptions } from './verify.js';

export interface ReplayOptions extends VerifyOptions {
  /**
   * Run the checks in a worker thread while this thread reads the source (default: in this
   * thread): reading and checking then take a core each.
   */
  inWorker?: boolean;
  /** Extra checks once the events are verified (e.g. the read-model comparison). */
  afterReplay?: () => Promise<{ findings: Finding[]; notes: string[] }>;
}

export async function replayAndVerify(options: ReplayOptions): Promise<ReplayResult> {
  const started = performance.now();
  const result = options.inWorker ? await verifyInWorker(options) : await verifyRecords(options);
  const seconds = (performance.now() - started) / 1000;
  result.seconds = seconds;
  result.eventsPerSecond = seconds > 0 ? Math.round(result.events / seconds) : result.events;
  if (options.afterReplay) {
    const after = await options.afterReplay();
    result.findings.push(...after.findings);
    result.notes.push(...after.notes);
    result.ok = result.findings.length === 0;
  }
  return result;
}

/** Batches read and not yet checked, at most. */
const READ_AHEAD = 3;

async function verifyInWorker(options: ReplayOptions): Promise<ReplayResult> {
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
  let verified = 0;
  let result: ReplayResult | undefined;
  let wake: (() => void) | undefined;
  worker.on('message', (reply: VerifyWorkerReply) => {
    if (reply.kind === 'verified') {
      verified += 1;
      options.onProgress?.(reply.records, data.total);
    } else if (reply.kind === 'failed') failure = new Error(`the audit's checks failed: ${reply.message}`);
    else result = reply.result;
    wake?.();
  });
  worker.on('error', (error) => {
    failure = error;
    wake?.();
  });
  worker.on('exit', (code) => {
    failure ??= result === undefined ? new Error(`the audit's checks stopped (worker exit code ${code})`) : undefined;
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
      await waitFor(() => sent - verified < READ_AHEAD);
    }
    const end: VerifyWorkerCommand = {
      kind: 'end',
      openEnd: options.source.openEnd,
      integrityFindings: options.source.integrityFindings(),
    };
    worker.postMessage(end);
    await waitFor(() => result !== undefined);
    return result!;
  } finally {
    await worker.terminate();
  }
}
