// One store's edge for the pipeline benchmark, run in its own worker thread as it would run on its
// own machine: head office's synchronous SQLite commits then do not stall the store's appends.
import { on } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import { generateSigningKey, rawPublicKey, type EventInput } from '../contracts/index.js';
import { startEdge } from '../edge/index.js';
import { natsTlsOptions } from '../infra/nats/index.js';

export interface EdgeWorkerData {
  storeId: string;
  dataDir: string;
  natsUrl: string;
  /** CA to verify the server's TLS certificate with, when the links are TLS. */
  tlsCa?: string;
  events: number;
  /** Events per EventLog.append call. */
  appendChunk: number;
}

/** Worker → bench. */
export type EdgeWorkerMessage =
  | { kind: 'key'; publicKey: Uint8Array }
  | { kind: 'ready' }
  | { kind: 'progress'; confirmedSeq: number }
  | { kind: 'confirmed' }
  | { kind: 'log'; message: string }
  | { kind: 'stopped' };

/** Bench → worker: go through the steps in this order. */
export type EdgeWorkerCommand = { kind: 'start' } | { kind: 'append' } | { kind: 'stop' };

/** A pay at a store, as the purse would record it. */
export function benchPay(i: number): EventInput {
  const cardId = `card-${i % 997}`;
  return { event: { type: 'PursePaid', data: { cardId, amount: 100 + (i % 50), newBalance: 10_000 } }, streamId: cardId };
}

async function runEdgeWorker(port: NonNullable<typeof parentPort>, data: EdgeWorkerData): Promise<void> {
  const send = (message: EdgeWorkerMessage) => port.postMessage(message);
  const inbox = on(port, 'message');
  const next = async (kind: EdgeWorkerCommand['kind']) => {
    const { value } = await inbox.next();
    const [command] = value as [EdgeWorkerCommand];
    if (command.kind !== kind) throw new Error(`edge worker ${data.storeId}: expected "${kind}", got "${command.kind}"`);
  };
  const say = (message: unknown) => send({ kind: 'log', message: `${data.storeId}: ${String(message)}` });

  const signingKey = generateSigningKey();
  send({ kind: 'key', publicKey: rawPublicKey(signingKey.publicKey) });
  await next('start');
  const edge = await startEdge({
    storeId: data.storeId,
    dataDir: data.dataDir,
    natsUrl: data.natsUrl,
    natsOptions: natsTlsOptions(data.tlsCa),
    signingKey,
    logger: { info: () => undefined, warn: say, error: say },
  });
  if (!(await edge.nats)) throw new Error(`edge worker ${data.storeId}: no NATS connection`);
  send({ kind: 'ready' });

  await next('append');
  const report = setInterval(() => send({ kind: 'progress', confirmedSeq: edge.replicator.progress().confirmedSeq }), 1000);
  for (let done = 0; done < data.events; done += data.appendChunk) {
    const count = Math.min(data.appendChunk, data.events - done);
    await edge.log.append(Array.from({ length: count }, (_, k) => benchPay(done + k)));
  }
  await edge.replicator.whenConfirmed(data.events);
  clearInterval(report);
  send({ kind: 'confirmed' });

  await next('stop');
  await edge.stop();
  send({ kind: 'stopped' });
  port.close();
}

if (parentPort) void runEdgeWorker(parentPort, workerData as EdgeWorkerData);
