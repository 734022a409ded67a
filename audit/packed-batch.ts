// A batch of audit records as the replaying thread sends it to the checks' worker: the records'
// bytes in one transferred buffer, their streams and types as indexes into short lists.
import type { IssuerMasterKeys } from '../card/index.js';
import type { Finding } from './findings.js';
import type { RegisteredKey } from './keys.js';
import type { AuditRecord } from './records.js';
import type { VerifiedHistory } from './verify.js';

/** Per record, in `meta`: position, offset of its bytes, their length, stream index, type index. */
const META_FIELDS = 5;

/** One batch of records as sent to the worker. */
interface PackedBatch {
  kind: 'batch';
  streams: string[];
  types: string[];
  ids: string[];
  meta: Float64Array;
  bytes: Uint8Array;
}

export interface VerifyWorkerData {
  keys: RegisteredKey[];
  /** The source's registered keys, read by this thread when the replay does not start at genesis. */
  registeredKeys: RegisteredKey[];
  issuerKeys: IssuerMasterKeys | undefined;
  fromGenesis: boolean;
  total: number | undefined;
}

export type VerifyWorkerCommand = PackedBatch | { kind: 'end'; openEnd: boolean; integrityFindings: Finding[] };
export type VerifyWorkerReply =
  | { kind: 'verified'; records: number }
  | { kind: 'done'; verified: VerifiedHistory }
  | { kind: 'failed'; message: string };

export class BatchPacker {
  private readonly streams = new Names();
  private readonly types = new Names();

  pack(batch: AuditRecord[]): PackedBatch {
    let size = 0;
    for (const record of batch) size += record.data.length;
    const bytes = new Uint8Array(size);
    const meta = new Float64Array(batch.length * META_FIELDS);
    const ids = new Array<string>(batch.length);
    for (let i = 0, at = 0; i < batch.length; i++) {
      const record = batch[i]!;
      const m = i * META_FIELDS;
      bytes.set(record.data, at);
      meta[m] = Number(record.position);
      meta[m + 1] = at;
      meta[m + 2] = record.data.length;
      meta[m + 3] = this.streams.index(record.streamId);
      meta[m + 4] = this.types.index(record.type);
      ids[i] = record.id;
      at += record.data.length;
    }
    return { kind: 'batch', streams: this.streams.list(), types: this.types.list(), ids, meta, bytes };
  }
}

/** The records of a packed batch, their bytes views into its buffer. */
export function unpack({ streams, types, ids, meta, bytes }: PackedBatch): AuditRecord[] {
  // Views of a Buffer are Buffers: the readers then take them as they are, without a view each.
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records = new Array<AuditRecord>(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const m = i * META_FIELDS;
    records[i] = {
      position: BigInt(meta[m]!),
      streamId: streams[meta[m + 3]!]!,
      type: types[meta[m + 4]!]!,
      id: ids[i]!,
      data: buffer.subarray(meta[m + 1]!, meta[m + 1]! + meta[m + 2]!),
    };
  }
  return records;
}

/** A few names (streams, record types) sent by index; records come in runs of one, asked first. */
class Names {
  private readonly names: string[] = [];
  private readonly indexes = new Map<string, number>();
  private last: string | undefined;
  private lastIndex = 0;

  index(name: string): number {
    if (name === this.last) return this.lastIndex;
    let index = this.indexes.get(name);
    if (index === undefined) {
      index = this.names.push(name) - 1;
      this.indexes.set(name, index);
    }
    this.last = name;
    this.lastIndex = index;
    return index;
  }

  list(): string[] {
    return [...this.names];
  }
}
