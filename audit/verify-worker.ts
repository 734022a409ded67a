// The replay's checks in a worker thread (replay.ts sends the records, packed, as the
// replaying thread reads them). The checks are the same code as in one thread: verifyRecords over
// a source that yields the batches as they arrive.
import { on } from 'node:events';
import { parentPort, workerData } from 'node:worker_threads';
import type { Finding } from './findings.js';
import { KeyRing } from './keys.js';
import type { AuditRecord, RecordSource } from './records.js';
import { verifyRecords } from './verify.js';
import { unpack, type VerifyWorkerCommand, type VerifyWorkerData, type VerifyWorkerReply } from './packed-batch.js';

const port = parentPort!;
const data = workerData as VerifyWorkerData;
const reply = (message: VerifyWorkerReply) => port.postMessage(message);

// Listening from the start: the batches that arrive while the modules load wait here.
const inbox = on(port, 'message');

let openEnd = false;
let integrityFindings: Finding[] = [];
const source: RecordSource = {
  description: 'records sent by the replay',
  get openEnd() {
    return openEnd;
  },
  total: async () => data.total,
  async *batches(): AsyncIterable<AuditRecord[]> {
    for await (const [command] of inbox as AsyncIterable<[VerifyWorkerCommand]>) {
      if (command.kind === 'end') {
        openEnd = command.openEnd;
        integrityFindings = command.integrityFindings;
        return;
      }
      yield unpack(command);
    }
  },
  integrityFindings: () => integrityFindings,
  registeredKeys: async () => data.registeredKeys,
};

const keys = new KeyRing();
for (const key of data.keys) keys.add(key);
try {
  const verified = await verifyRecords({
    source,
    keys,
    issuerKeys: data.issuerKeys,
    fromGenesis: data.fromGenesis,
    onProgress: (records) => reply({ kind: 'verified', records }),
  });
  reply({ kind: 'done', verified });
} catch (error) {
  reply({ kind: 'failed', message: (error as Error).stack ?? String(error) });
}
