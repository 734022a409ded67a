// A store's durable, append-only, hash-chained event log. Appends are reported committed only after
// fdatasync; concurrent appends share one write and one fdatasync (group commit).
import { closeSync, fdatasync, ftruncateSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';
import { decodeEnvelope, type EventEnvelope } from '../../contracts/index.js';
import { GENESIS_HASH, hashEnvelope, sealEnvelope, type EventInput } from '../../contracts/index.js';
import {
  FRAME_HEADER_BYTES,
  MAX_FRAME_PAYLOAD,
  encodeFrame,
  frameChecksumMatches,
  frameLength,
  fsyncDirectory,
  listSegments,
  segmentFileName,
  segmentPath,
} from './segment-files.js';

const fdatasyncAsync = promisify(fdatasync);

import type { Logger } from '../../infra/index.js';
import { equalBytes } from '../../card/index.js';

export interface EventLogOptions {
  dir: string;
  storeId: string;
  logger?: Logger;
  /** A new segment starts once the current one reaches this size. */
  segmentBytes?: number;
  /** Inspect only: report a torn tail instead of cutting it, refuse appends. */
  readOnly?: boolean;
}

/** One committed event: its sequence, its exact stored bytes and the envelope they encode. */
export interface LogEntry {
  seq: number;
  bytes: Uint8Array;
  envelope: EventEnvelope;
}

/** An appended event: as a LogEntry, plus the hash the next event links to. */
export interface AppendedEntry extends LogEntry {
  hash: Uint8Array;
}

/** The log's files are damaged somewhere a crash cannot explain (not in the tail). */
export class LogCorruptError extends Error {
  override name = 'LogCorruptError';
}

interface Segment {
  firstSeq: number;
  path: string;
  /** Offset of each frame; frame i holds sequence firstSeq + i. */
  offsets: number[];
  size: number;
  readFd?: number;
}

interface PendingAppend {
  frames: Buffer[];
  entries: AppendedEntry[];
  resolve: (entries: AppendedEntry[]) => void;
  reject: (error: Error) => void;
}

const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

export class EventLog {
  private readonly segments: Segment[];
  private writeFd: number | undefined;
  /** Last sequence handed out (maybe not yet durable). */
  private assignedSeq: number;
  private assignedHash: Uint8Array;
  private durableSeq: number;
  private durableHash: Uint8Array;
  private pending: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private readonly commitListeners = new Set<(headSeq: number) => void>();

  private constructor(
    private readonly options: Required<Pick<EventLogOptions, 'dir' | 'storeId' | 'segmentBytes' | 'readOnly'>>,
    segments: Segment[],
    headSeq: number,
    headHash: Uint8Array,
    /** Bytes of torn tail found on open (cut unless read-only). */
    readonly droppedTailBytes: number,
  ) {
    this.segments = segments;
    this.assignedSeq = this.durableSeq = headSeq;
    this.assignedHash = this.durableHash = headHash;
  }

  static async open(options: EventLogOptions): Promise<EventLog> {
    const logger = options.logger ?? console;
    const readOnly = options.readOnly ?? false;
    if (!readOnly) mkdirSync(options.dir, { recursive: true });
    const starts = listSegments(options.dir);
    if (starts.length === 0 && !readOnly) {
      closeSync(openSync(segmentPath(options.dir, 1), 'a'));
      fsyncDirectory(options.dir);
      starts.push(1);
    }
    if (starts[0] !== undefined && starts[0] !== 1)
      throw new LogCorruptError(`event log ${options.dir}: first segment starts at ${starts[0]}, not 1`);

    const segments: Segment[] = [];
    let prevHash = GENESIS_HASH;
    let headSeq = 0;
    let dropped = 0;
    for (const [index, firstSeq] of starts.entries()) {
      if (firstSeq !== headSeq + 1) {
        throw new LogCorruptError(`event log ${options.dir}: segment ${segmentFileName(firstSeq)} should start at ${headSeq + 1}`);
      }
      const path = segmentPath(options.dir, firstSeq);
      const data = readFileSync(path);
      const isLast = index === starts.length - 1;
      const scan = isLast ? verifyTail(data, firstSeq, prevHash, options.storeId) : walkSealed(data, path);
      segments.push({ firstSeq, path, offsets: scan.offsets, size: scan.validBytes });
      headSeq = firstSeq + scan.offsets.length - 1;
      if (isLast) {
        prevHash = scan.offsets.length > 0 ? scan.lastHash : prevHash;
        dropped = data.length - scan.validBytes;
        if (dropped > 0) {
          const where = `segment ${segmentFileName(firstSeq)} offset ${scan.validBytes}`;
          if (readOnly)
            logger.warn(`event log ${options.dir}: torn tail of ${dropped} bytes at ${where} (${scan.reason}); left in place (read-only)`);
          else {
            const fd = openSync(path, 'r+');
            try {
              ftruncateSync(fd, scan.validBytes);
              fsyncSync(fd);
            } finally {
              closeSync(fd);
            }
            logger.warn(`event log ${options.dir}: dropped torn tail of ${dropped} bytes at ${where} (${scan.reason})`);
          }
        }
      } else if (scan.offsets.length > 0) {
        const lastOffset = scan.offsets[scan.offsets.length - 1]!;
        prevHash = hashEnvelope(data.subarray(lastOffset + FRAME_HEADER_BYTES, scan.validBytes));
      }
    }

    const resolved = { dir: options.dir, storeId: options.storeId, segmentBytes: options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, readOnly };
    const log = new EventLog(resolved, segments, headSeq, prevHash, dropped);
    if (!readOnly && segments.length > 0) log.writeFd = openSync(segments[segments.length - 1]!.path, 'r+');
    return log;
  }

  get storeId(): string {
    return this.options.storeId;
  }

  /** Sequence of the last committed (fdatasync'd) event; 0 when the log is empty. */
  get headSeq(): number {
    return this.durableSeq;
  }

  /** Hash of the last committed envelope (the genesis hash when empty). */
  get headHash(): Uint8Array {
    return this.durableHash;
  }

  /**
   * Appends events in order and resolves once they are on disk. Sequence numbers are taken at the
   * call, so concurrent calls keep their call order in the log.
   */
  append(inputs: EventInput[]): Promise<AppendedEntry[]> {
    if (this.options.readOnly) return Promise.reject(new Error(`event log ${this.options.dir} is open read-only`));
    if (this.closed) return Promise.reject(new Error(`event log ${this.options.dir} is closed`));
    if (this.failure)
      return Promise.reject(new Error(`event log ${this.options.dir} failed earlier and must be reopened: ${this.failure.message}`));
    if (inputs.length === 0) return Promise.resolve([]);
    const frames: Buffer[] = [];
    const entries: AppendedEntry[] = [];
    for (const input of inputs) {
      const seq = this.assignedSeq + 1;
      const sealed = sealEnvelope(this.options.storeId, seq, this.assignedHash, input);
      this.assignedSeq = seq;
      this.assignedHash = sealed.hash;
      frames.push(encodeFrame(sealed.bytes, sealed.hash));
      entries.push({ seq, ...sealed });
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ frames, entries, resolve, reject });
      this.flushing ??= new Promise<void>((done) => setImmediate(done)).then(() => this.flushAll());
    });
  }

  /** Committed events from `fromSeq`, at most `maxCount` of them and, past the first, at most `maxBytes` of envelopes. */
  read(fromSeq: number, maxCount: number, maxBytes = Number.POSITIVE_INFINITY): LogEntry[] {
    if (!Number.isInteger(fromSeq) || fromSeq < 1) throw new RangeError(`fromSeq must be a positive integer, got ${fromSeq}`);
    const entries: LogEntry[] = [];
    let bytes = 0;
    let seq = fromSeq;
    while (seq <= this.durableSeq && entries.length < maxCount) {
      const segment = this.segmentOf(seq);
      const first = seq - segment.firstSeq;
      const lastSeqHere = Math.min(this.durableSeq, segment.firstSeq + segment.offsets.length - 1, seq + (maxCount - entries.length) - 1);
      const start = segment.offsets[first]!;
      const end =
        lastSeqHere - segment.firstSeq + 1 < segment.offsets.length ? segment.offsets[lastSeqHere - segment.firstSeq + 1]! : segment.size;
      const data = this.readRange(segment, start, end);
      let offset = 0;
      for (; seq <= lastSeqHere; seq++) {
        const length = frameLength(data, offset);
        if (entries.length > 0 && bytes + length > maxBytes) return entries;
        const payload = data.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
        entries.push({ seq, bytes: payload, envelope: decodeEnvelope(payload) });
        bytes += length;
        offset += FRAME_HEADER_BYTES + length;
      }
    }
    return entries;
  }

  /** Calls `listener` with the new head sequence after every commit; returns the unsubscribe. */
  onCommit(listener: (headSeq: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** Waits for appends in progress, then releases the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.flushing;
    if (this.writeFd !== undefined) closeSync(this.writeFd);
    this.writeFd = undefined;
    for (const segment of this.segments) {
      if (segment.readFd !== undefined) closeSync(segment.readFd);
      segment.readFd = undefined;
    }
  }

  private async flushAll(): Promise<void> {
    while (this.pending.length > 0) {
      const group = this.pending.splice(0);
      try {
        await this.writeGroup(group);
      } catch (error) {
        this.failure = error as Error;
        for (const append of [...group, ...this.pending.splice(0)]) append.reject(this.failure);
      }
    }
    this.flushing = undefined;
  }

  private async writeGroup(group: PendingAppend[]): Promise<void> {
    let segment = this.segments[this.segments.length - 1]!;
    if (segment.size >= this.options.segmentBytes) segment = this.rollOver();
    const data = Buffer.concat(group.flatMap((append) => append.frames));
    let written = 0;
    while (written < data.length) written += writeSync(this.writeFd!, data, written, data.length - written, segment.size + written);
    await fdatasyncAsync(this.writeFd!);
    let offset = segment.size;
    for (const frame of group.flatMap((append) => append.frames)) {
      segment.offsets.push(offset);
      offset += frame.length;
    }
    segment.size = offset;
    const last = group[group.length - 1]!.entries.at(-1)!;
    this.durableSeq = last.seq;
    this.durableHash = last.hash;
    for (const append of group) append.resolve(append.entries);
    for (const listener of this.commitListeners) listener(this.durableSeq);
  }

  private rollOver(): Segment {
    const firstSeq = this.durableSeq + 1;
    const path = segmentPath(this.options.dir, firstSeq);
    const fd = openSync(path, 'wx');
    fsyncDirectory(this.options.dir);
    closeSync(this.writeFd!);
    this.writeFd = fd;
    const segment: Segment = { firstSeq, path, offsets: [], size: 0 };
    this.segments.push(segment);
    return segment;
  }

  private segmentOf(seq: number): Segment {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.segments[middle]!.firstSeq <= seq) low = middle;
      else high = middle - 1;
    }
    return this.segments[low]!;
  }

  private readRange(segment: Segment, start: number, end: number): Buffer {
    segment.readFd ??= openSync(segment.path, 'r');
    const data = Buffer.allocUnsafe(end - start);
    let read = 0;
    while (read < data.length) {
      const n = readSync(segment.readFd, data, read, data.length - read, start + read);
      if (n === 0) throw new LogCorruptError(`event log ${this.options.dir}: ${segment.path} ends before offset ${end}`);
      read += n;
    }
    return data;
  }
}

interface Scan {
  offsets: number[];
  validBytes: number;
  lastHash: Uint8Array;
  reason?: string;
}

/** A sealed (not last) segment: frames must fill it exactly; anything else is corruption. */
function walkSealed(data: Buffer, path: string): Scan {
  const offsets: number[] = [];
  let offset = 0;
  while (offset < data.length) {
    const length = offset + FRAME_HEADER_BYTES <= data.length ? frameLength(data, offset) : -1;
    if (length < 0 || length > MAX_FRAME_PAYLOAD || offset + FRAME_HEADER_BYTES + length > data.length) {
      throw new LogCorruptError(`event log segment ${path} is damaged at offset ${offset}; only the last segment can have a torn tail`);
    }
    offsets.push(offset);
    offset += FRAME_HEADER_BYTES + length;
  }
  return { offsets, validBytes: offset, lastHash: GENESIS_HASH };
}

/** The last segment: every frame must be whole, match its checksum and continue the chain. */
function verifyTail(data: Buffer, firstSeq: number, prevHash: Uint8Array, storeId: string): Scan {
  const offsets: number[] = [];
  let offset = 0;
  let hash = prevHash;
  const stop = (reason: string): Scan => ({ offsets, validBytes: offset, lastHash: hash, reason });
  while (offset < data.length) {
    if (offset + FRAME_HEADER_BYTES > data.length) return stop('incomplete frame header');
    const length = frameLength(data, offset);
    if (length > MAX_FRAME_PAYLOAD) return stop(`frame length ${length} out of range`);
    if (offset + FRAME_HEADER_BYTES + length > data.length) return stop('incomplete frame');
    const payload = data.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
    const payloadHash = hashEnvelope(payload);
    if (!frameChecksumMatches(data, offset, payloadHash)) return stop('checksum mismatch');
    let envelope: EventEnvelope;
    try {
      envelope = decodeEnvelope(payload);
    } catch {
      return stop('undecodable envelope');
    }
    if (envelope.storeId !== storeId) throw new LogCorruptError(`event log holds events of store "${envelope.storeId}", not "${storeId}"`);
    const seq = firstSeq + offsets.length;
    if (envelope.storeSeq !== seq) return stop(`sequence ${envelope.storeSeq} where ${seq} was due`);
    if (!equalBytes(envelope.prevHash, hash)) return stop(`hash chain broken at sequence ${seq}`);
    offsets.push(offset);
    hash = payloadHash;
    offset += FRAME_HEADER_BYTES + length;
  }
  return { offsets, validBytes: offset, lastHash: hash };
}
