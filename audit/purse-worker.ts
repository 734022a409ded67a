// The purse checks in a worker thread, so that they run beside the chain checks on another core.
// The replay sends the purse events as they come out of the chain checks (in each origin's
// sequence order), their envelope bytes packed into one transferred buffer per batch.
import { parentPort, workerData } from 'node:worker_threads';
import { readEnvelope } from './envelope-view.js';
import type { Finding } from './findings.js';
import { PurseAuditor } from './purse-check.js';
import { META_FIELDS, type PurseWorkerCommand, type PurseWorkerData, type PurseWorkerReply } from './purse-channel.js';

const port = parentPort!;
const options = workerData as PurseWorkerData;
const findings: Finding[] = [];
const purse = new PurseAuditor((finding) => void findings.push(finding), options.issuerKeys, options.fromGenesis);

port.on('message', (command: PurseWorkerCommand) => {
  try {
    if (command.kind === 'events') {
      const { meta, bytes, origins } = command;
      for (let at = 0; at < meta.length; at += META_FIELDS) {
        const data = bytes.subarray(meta[at + 2]!, meta[at + 2]! + meta[at + 3]!);
        const envelope = readEnvelope(data);
        purse.onEvent({ origin: origins[meta[at + 4]!]!, seq: meta[at]!, eventId: envelope.eventId, position: BigInt(meta[at + 1]!), hash: undefined as never, bytes: data, envelope });
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
