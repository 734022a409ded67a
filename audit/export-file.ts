// The audit export file: magic, body of length-delimited ExportRecord messages (records exactly as
// stored), then a length-delimited ExportManifest and its length, so a reader finds the manifest
// from the end and checks the body against its digest while it reads.
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync, renameSync } from 'node:fs';
import { pb, ContractError, decodeOrThrow, type cardsys } from '../contracts/index.js';
import { readEnvelope } from './envelope-view.js';
import { CHECKS, type Finding } from './findings.js';
import type { AuditRecord, RecordSource } from './records.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream } from '../eventstore/index.js';

const MAGIC = Buffer.from('CSAUDIT1', 'ascii');
const FORMAT_VERSION = 1;
const TRAILER_LENGTH_BYTES = 4;
const READ_CHUNK = 4 << 20;

export type ExportManifest = cardsys.v1.IExportManifest & { origins: cardsys.v1.IExportOriginSummary[] };

export interface ExportScope {
  /** Only this origin (a store id or "hq"); undefined: every origin. */
  origin?: string;
  fromPosition?: bigint;
  toPosition?: bigint;
}

export interface ExportKeys {
  storeKeys: { storeId: string; keyId: string; publicKey: Uint8Array }[];
  hqPublicKey?: Uint8Array;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Writes what the source gives to `file` (through a temporary file, renamed once complete). */
export async function writeExport(
  source: RecordSource,
  file: string,
  scope: ExportScope,
  keys: ExportKeys,
  onProgress?: (records: number) => void,
): Promise<ExportManifest> {
  const partial = `${file}.partial`;
  const fd = openSync(partial, 'w');
  const digest = createHash('sha256');
  const origins = new Map<string, cardsys.v1.IExportOriginSummary>();
  let bodyBytes = 0;
  let records = 0;
  let firstPosition: number | undefined;
  let lastPosition = 0;
  try {
    writeSync(fd, MAGIC);
    for await (const batch of source.batches()) {
      const chunks: Buffer[] = [];
      for (const record of batch) {
        const encoded = pb.ExportRecord.encode({
          position: Number(record.position),
          streamId: record.streamId,
          type: record.type,
          id: record.id,
          data: record.data,
        }).finish();
        chunks.push(varint(encoded.length), Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength));
        summarise(origins, record);
        const position = Number(record.position);
        firstPosition ??= position;
        lastPosition = position;
      }
      const body = Buffer.concat(chunks);
      digest.update(body);
      writeSync(fd, body);
      bodyBytes += body.length;
      records += batch.length;
      onProgress?.(records);
    }
    const manifest: ExportManifest = {
      formatVersion: FORMAT_VERSION,
      createdAtMs: Date.now(),
      scopeStoreId: scope.origin ?? '',
      scopeFromPosition: Number(scope.fromPosition ?? 0n),
      scopeToPosition: Number(scope.toPosition ?? 0n),
      origins: [...origins.values()].sort((a, b) => String(a.origin).localeCompare(String(b.origin))),
      records,
      firstPosition: firstPosition ?? 0,
      lastPosition,
      bodySha256: digest.digest(),
      bodyBytes,
      storeKeys: keys.storeKeys,
      hqPublicKey: keys.hqPublicKey ?? new Uint8Array(0),
    };
    const encoded = pb.ExportManifest.encode(manifest).finish();
    const trailer = Buffer.alloc(TRAILER_LENGTH_BYTES);
    const delimited = Buffer.concat([varint(encoded.length), encoded]);
    trailer.writeUInt32BE(delimited.length);
    writeSync(fd, Buffer.concat([delimited, trailer]));
    closeSync(fd);
    renameSync(partial, file);
    return manifest;
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function summarise(origins: Map<string, cardsys.v1.IExportOriginSummary>, record: AuditRecord): void {
  const origin = originOfStream(record.streamId) ?? record.streamId;
  let summary = origins.get(origin);
  if (!summary) {
    summary = { origin, events: 0, heads: 0, firstSeq: 0, lastSeq: 0, firstPosition: Number(record.position), lastPosition: 0 };
    origins.set(origin, summary);
  }
  summary.lastPosition = Number(record.position);
  if (record.type === CHAIN_HEAD_RECORD_TYPE) {
    summary.heads = Number(summary.heads) + 1;
    return;
  }
  summary.events = Number(summary.events) + 1;
  try {
    const seq = readEnvelope(record.data).storeSeq;
    if (!summary.firstSeq) summary.firstSeq = seq;
    summary.lastSeq = seq;
  } catch {
    // An undecodable record is exported as stored; the replay names it.
  }
}

/** An export file opened for reading: its manifest, and its records as a source. */
export interface ExportFile extends RecordSource {
  readonly file: string;
  readonly manifest: ExportManifest;
}

/** Opens an export file and reads its manifest; throws a clear error for anything else. */
export function openExport(file: string): ExportFile {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (error) {
    throw new Error(`cannot open export file ${file}: ${(error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const magic = Buffer.alloc(MAGIC.length);
    readSync(fd, magic, 0, MAGIC.length, 0);
    if (size < MAGIC.length + TRAILER_LENGTH_BYTES || !magic.equals(MAGIC))
      throw new ContractError(`${file} is not a cardsys audit export (no CSAUDIT1 header)`);
    const trailer = Buffer.alloc(TRAILER_LENGTH_BYTES);
    readSync(fd, trailer, 0, TRAILER_LENGTH_BYTES, size - TRAILER_LENGTH_BYTES);
    const manifestLength = trailer.readUInt32BE(0);
    const manifestStart = size - TRAILER_LENGTH_BYTES - manifestLength;
    if (manifestStart < MAGIC.length)
      throw new ContractError(`${file}: the manifest length in the trailer (${manifestLength}) does not fit the file`);
    const delimited = Buffer.alloc(manifestLength);
    readSync(fd, delimited, 0, manifestLength, manifestStart);
    const { value: length, next } = readVarint(delimited, 0);
    if (length === undefined || next + length !== manifestLength) throw new ContractError(`${file}: malformed manifest framing`);
    const manifest = decodeOrThrow('ExportManifest', () => pb.ExportManifest.decode(delimited.subarray(next))) as ExportManifest;
    if (manifest.formatVersion !== FORMAT_VERSION)
      throw new ContractError(`${file}: export format ${manifest.formatVersion} is not supported (expected ${FORMAT_VERSION})`);
    closeSync(fd);
    return exportSource(file, manifest, manifestStart);
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

function readVarint(buffer: Buffer, at: number): { value: number | undefined; next: number } {
  let value = 0;
  let multiplier = 1;
  for (let i = at; i < buffer.length && i < at + 8; i++) {
    const byte = buffer[i]!;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return { value, next: i + 1 };
    multiplier *= 128;
  }
  return { value: undefined, next: at };
}

function exportSource(file: string, manifest: ExportManifest, bodyEnd: number): ExportFile {
  const findings: Finding[] = [];
  return {
    file,
    manifest,
    description: `export ${file}`,
    openEnd: Boolean(manifest.scopeToPosition),
    total: async () => Number(manifest.records),
    integrityFindings: () => findings,
    registeredKeys: async () =>
      (manifest.storeKeys ?? []).map((key) => ({
        storeId: key.storeId ?? '',
        keyId: key.keyId ?? '',
        publicKey: key.publicKey ?? new Uint8Array(0),
      })),
    async *batches() {
      findings.length = 0;
      const fd = openSync(file, 'r');
      const digest = createHash('sha256');
      let offset = MAGIC.length;
      let carry = Buffer.alloc(0);
      try {
        while (offset < bodyEnd) {
          const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK, bodyEnd - offset));
          const read = readSync(fd, chunk, 0, chunk.length, offset);
          if (read <= 0) break;
          offset += read;
          digest.update(chunk.subarray(0, read));
          const buffer = carry.length ? Buffer.concat([carry, chunk.subarray(0, read)]) : chunk.subarray(0, read);
          const { records, consumed } = parseRecords(buffer, file, offset - read - carry.length);
          carry = Buffer.from(buffer.subarray(consumed));
          if (records.length) yield records;
        }
        if (carry.length)
          findings.push({
            check: CHECKS.decode,
            message: `${file}: ${carry.length} bytes at the end of the body do not form a whole record`,
          });
      } finally {
        closeSync(fd);
      }
      const actual = digest.digest();
      if (!actual.equals(Buffer.from(manifest.bodySha256 ?? []))) {
        findings.push({
          check: CHECKS.exportDigest,
          message: `${file}: the body's SHA-256 is ${actual.toString('hex')}, the manifest says ${Buffer.from(manifest.bodySha256 ?? []).toString('hex')}: the file was changed after export`,
        });
      }
    },
  };
}

function parseRecords(buffer: Buffer, file: string, bufferOffset: number): { records: AuditRecord[]; consumed: number } {
  const records: AuditRecord[] = [];
  let at = 0;
  while (at < buffer.length) {
    const { value: length, next } = readVarint(buffer, at);
    if (length === undefined || next + length > buffer.length) break;
    const bytes = buffer.subarray(next, next + length);
    const record = decodeOrThrow(`ExportRecord at byte ${bufferOffset + at} of ${file}`, () => pb.ExportRecord.decode(bytes));
    records.push({ position: BigInt(record.position), streamId: record.streamId, type: record.type, id: record.id, data: record.data });
    at = next + length;
  }
  return { records, consumed: at };
}
