// Segment files and the frames inside them.
//
// A segment is named after the sequence of its first frame. A frame is
//   u32 big-endian payload length | first 8 bytes of SHA-256(payload) | payload
// where the payload is an encoded EventEnvelope. The checksum is a prefix of the hash that the
// chain needs anyway, so checking a frame costs nothing extra.
import { closeSync, fsyncSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const FRAME_HEADER_BYTES = 12;
const CHECKSUM_BYTES = 8;
/** No envelope comes near this; a larger length field is corruption, not data. */
export const MAX_FRAME_PAYLOAD = 16 * 1024 * 1024;

const SEGMENT_NAME = /^seg-(\d{16})\.log$/;

export function segmentFileName(firstSeq: number): string {
  return `seg-${String(firstSeq).padStart(16, '0')}.log`;
}

/** First sequences of the segments in `dir`, ascending. */
export function listSegments(dir: string): number[] {
  return readdirSync(dir)
    .map((name) => SEGMENT_NAME.exec(name)?.[1])
    .filter((seq): seq is string => seq !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

export function encodeFrame(payload: Uint8Array, hash: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(hash.subarray(0, CHECKSUM_BYTES), 4);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export function frameLength(buffer: Buffer, offset: number): number {
  return buffer.readUInt32BE(offset);
}

export function frameChecksumMatches(buffer: Buffer, offset: number, hash: Uint8Array): boolean {
  return buffer.compare(hash, 0, CHECKSUM_BYTES, offset + 4, offset + 4 + CHECKSUM_BYTES) === 0;
}

/** Makes a directory entry change (new file, truncation) durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function segmentPath(dir: string, firstSeq: number): string {
  return join(dir, segmentFileName(firstSeq));
}
