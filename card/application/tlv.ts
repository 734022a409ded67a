import { concat } from '../crypto/bytes.js';

// One-byte tag, one-byte length TLV: enough for every record this application keeps.

export function encodeTlv(entries: ReadonlyArray<readonly [number, Uint8Array]>): Uint8Array {
  return concat(
    ...entries.map(([tag, value]) => {
      if (value.length > 255) throw new Error(`TLV value for tag ${tag.toString(16)} is longer than 255 bytes`);
      return concat(Uint8Array.of(tag, value.length), value);
    }),
  );
}

/** Decodes TLV into a tag → value map; returns undefined when the bytes are not well formed. */
export function decodeTlv(bytes: Uint8Array): Map<number, Uint8Array> | undefined {
  const out = new Map<number, Uint8Array>();
  let offset = 0;
  while (offset < bytes.length) {
    if (offset + 2 > bytes.length) return undefined;
    const tag = bytes[offset]!;
    const length = bytes[offset + 1]!;
    if (offset + 2 + length > bytes.length || out.has(tag)) return undefined;
    out.set(tag, bytes.slice(offset + 2, offset + 2 + length));
    offset += 2 + length;
  }
  return out;
}
