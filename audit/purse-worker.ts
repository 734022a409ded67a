// The purse checks in a worker thread, so that they run beside the chain checks on another core.
// The replay sends the purse events as they come out of the chain checks (in each origin's
// sequence order), their payload bytes packed into one transferred buffer per batch.
import { parentPort, workerData } from 'node:worker_threads';
import type { Finding } from './findings.js';
import { PurseAuditor } from './purse-check.js';
import { META_FIELDS, type PurseWorkerCommand, type PurseWorkerData, type PurseWorkerReply } from './purse-channel.js';

const port = parentPort!;
const NOT_SENT = new Uint8Array(0);
const options = workerData as PurseWorkerData;
const findings: Finding[] = [];
const purse = new PurseAuditor((finding) => void findings.push(finding), options.issuerKeys, options.fromGenesis);

port.on('message', (command: PurseWorkerCommand) => {
  try {
    if (command.kind === 'events') {
      const { meta, bytes, origins, eventTypes, eventIds } = command;
      for (let at = 0, event = 0; at < meta.length; at += META_FIELDS, event++) {
        const payload = bytes.subarray(meta[at + 2]!, meta[at + 2]! + meta[at + 3]!);
        const origin = origins[meta[at + 4]!]!;
        const seq = meta[at]!;
        const eventId = eventIds[event]!;
        // Only what the purse checks read: the chain checks (hash, prev_hash, bytes) ran in the replay.
        const envelope = {
          eventId,
          storeId: origin,
          storeSeq: seq,
          prevHash: NOT_SENT,
          occurredAtMs: meta[at + 5]!,
          eventType: eventTypes[meta[at + 6]!]!,
          payload,
        };
        purse.onEvent({ origin, seq, eventId, position: BigInt(meta[at + 1]!), hash: undefined as never, envelope });
      }
      port.postMessage({ kind: 'applied' } satisfies PurseWorkerReply);
    } else {
      const summary = purse.finish(command.debitsComplete);
      port.postMessage({ kind: 'done', summary, findings } satisfies PurseWorkerReply);
    }
  } catch (error) {
    port.postMessage({ kind: 'failed', message: (error as Error).stack ?? String(error) } satisfies PurseWorkerReply);
  }
});
