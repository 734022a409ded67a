// How head office's issuance snapshots reach a store: one JetStream stream for every store in head
// office's snapshot account (see accounts.ts), each store's messages numbered 1, 2, … on subjects of
// their own (cardsys.snapshot.<id>.<n>, at most one message each), every message sealed to that
// store's key. Head office publishes full generations and changes, marks where the newest full
// generation starts (cardsys.snapshot.<id>.generation) and then purges the store's messages before
// it. The store reads them only by direct get of a subject's last message, the API subject naming
// the subject (its account imports the direct gets of its own subjects and nothing else), and may
// subscribe to its subjects to learn that something new arrived. Per store the hub holds subjects
// in one stream, not a stream: twenty thousand stores are twenty thousand accounts and one stream.
import { DiscardPolicy, type JetStreamClient, type JetStreamManager, jetstreamManager, type PubAck, StorageType } from '@nats-io/jetstream';
import { headers as natsHeaders, type MsgHdrs, RequestError, type NatsConnection } from '@nats-io/transport-node';
import { SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';
import { ensureStream } from './jetstream-cluster.js';

/** Headers every snapshot message carries beside head office's own: its number, and its generation's first. */
const HEADER = { number: 'Cardsys-Snapshot-Message', generationStart: 'Cardsys-Generation-Start' } as const;

/** Head office: creates the snapshot stream (with `replicas` copies), or leaves the existing one as it is. */
export async function ensureSnapshotsStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  await ensureStream(jsm, {
    name: SNAPSHOTS_STREAM,
    subjects: [subjects.snapshotAll],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    // Each message number is written once; the generation mark keeps only its newest.
    max_msgs_per_subject: 1,
    allow_direct: true,
    num_replicas: replicas,
    description: "every store's issuance snapshot, each store's messages sealed to its key",
  });
}

export interface SnapshotPosition {
  /** The message's number in the store's feed. */
  number: number;
  /** The number of the first message of the full generation it belongs to. */
  generationStart: number;
}

/** The stream's last sequence as its one publisher knows it: every publish expects it. */
export async function snapshotsStreamLastSeq(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info(SNAPSHOTS_STREAM)).state.last_seq;
}

interface PublishOptions {
  /** The stream's last sequence: any other publish since (another publisher's) makes this one refused. */
  streamSeq: number;
  msgID?: string;
  headers?: MsgHdrs;
}

/**
 * Head office: publishes message `position.number` of the store's feed. Refused when the stream
 * moved past `streamSeq` (so two publishers cannot interleave, nor one write a number another's
 * purge freed) or the number is taken; `msgID` makes a retry of the same message a no-op.
 */
export function publishSnapshotMessage(
  js: JetStreamClient,
  storeId: string,
  position: SnapshotPosition,
  payload: Uint8Array,
  options: PublishOptions,
): Promise<PubAck> {
  return js.publish(subjects.snapshotMessage(storeId, position.number), payload, {
    msgID: options.msgID,
    headers: withPosition(options.headers, position),
    expect: { lastSequence: options.streamSeq, lastSubjectSequence: 0 },
  });
}

/**
 * Head office: marks where the store's newest full generation starts (after its last part, `position`),
 * then purges the store's messages before it (the generation's first part at stream sequence
 * `firstStreamSeq`, 0 when nothing precedes it). Resolves with the mark's stream sequence.
 */
export async function startSnapshotGeneration(
  js: JetStreamClient,
  jsm: JetStreamManager,
  storeId: string,
  position: SnapshotPosition,
  firstStreamSeq: number,
  options: PublishOptions,
): Promise<number> {
  const mark = await js.publish(subjects.snapshotGeneration(storeId), new Uint8Array(0), {
    headers: withPosition(options.headers, position),
    expect: { lastSequence: options.streamSeq },
  });
  // nats-server 2.9 purges everything for sequence 1, which would be every store's messages.
  if (firstStreamSeq > 1) await jsm.streams.purge(SNAPSHOTS_STREAM, { filter: subjects.snapshot(storeId), seq: firstStreamSeq });
  return mark.seq;
}

/** Head office: the store's last message (a numbered one or the generation mark), with its headers and position. */
export async function lastSnapshotMessage(
  jsm: JetStreamManager,
  storeId: string,
): Promise<{ position: SnapshotPosition; header: MsgHdrs } | undefined> {
  const last = await jsm.streams.getMessage(SNAPSHOTS_STREAM, { last_by_subj: subjects.snapshot(storeId) });
  return last ? { position: positionOf(last.header), header: last.header } : undefined;
}

function withPosition(given: MsgHdrs | undefined, position: SnapshotPosition): MsgHdrs {
  const h = given ?? natsHeaders();
  h.set(HEADER.number, String(position.number));
  h.set(HEADER.generationStart, String(position.generationStart));
  return h;
}

const positionOf = (header: MsgHdrs): SnapshotPosition => ({
  number: Number(header.get(HEADER.number)),
  generationStart: Number(header.get(HEADER.generationStart)),
});

export interface StoredSnapshotMessage {
  /** The message's number: the store's cursor. A jump past cursor + 1 means head office purged what lay between. */
  seq: number;
  data: Uint8Array;
}

/** Direct gets kept in flight at most while catching up; each is one small request. */
const READ_WINDOW = 256;

/** The stream does not exist (yet): nothing published for any store. */
const isAbsent = (error: Error) => (error instanceof RequestError ? error.isNoResponders() : /stream not found/i.test(error.message));

/**
 * Edge: the JetStream API as its store's account imports it, direct gets of its own snapshot
 * subjects under `subjects.snapshotApi(storeId)` (a store may not call `$JS.API.INFO`, hence no API check).
 */
export function storeSnapshotApi(nc: NatsConnection, storeId: string): Promise<JetStreamManager> {
  return jetstreamManager(nc, { checkAPI: false, apiPrefix: subjects.snapshotApi(storeId) });
}

/**
 * Edge: every message of the store's feed after number `after`, in order, up to the last one
 * published when the read reaches it. Direct gets by subject only, which is all a store's account
 * imports; `jsm` from `storeSnapshotApi`.
 */
export async function* readSnapshotMessages(jsm: JetStreamManager, storeId: string, after: number): AsyncGenerator<StoredSnapshotMessage> {
  const get = async (subject: string) => {
    try {
      return await jsm.direct.getMessage(SNAPSHOTS_STREAM, { last_by_subj: subject });
    } catch (error) {
      if (isAbsent(error as Error)) return null;
      throw error;
    }
  };
  let next = after + 1;
  // The window doubles while every message asked for is there: one get when there is one new message.
  let window = 1;
  for (;;) {
    const batch = await Promise.all(Array.from({ length: window }, (_, i) => get(subjects.snapshotMessage(storeId, next + i))));
    const missing = batch.findIndex((message) => !message);
    for (const message of missing === -1 ? batch : batch.slice(0, missing)) {
      yield { seq: next, data: message!.data };
      next++;
    }
    if (missing === -1) {
      window = Math.min(2 * window, READ_WINDOW);
      continue;
    }
    // Nothing at `next`: the end, or head office purged what a newer full generation superseded.
    const mark = await get(subjects.snapshotGeneration(storeId));
    const start = mark ? positionOf(mark.header).generationStart : 0;
    if (start <= next) return;
    next = start;
    window = 1;
  }
}
