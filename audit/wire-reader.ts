// Walks the fields of a protobuf message straight from its bytes, for the audit's readers of
// envelopes and purse movements (a replay reads millions of each): no message object, no closure
// per field. One instance per reader, reused for every message.

export class WireReader {
  bytes: Buffer = Buffer.alloc(0);
  private at = 0;
  private end = 0;
  /** The field just read: its number and wire type. */
  field = 0;
  wire = 0;
  /** Wire type 0: the value (exact up to 2^53). */
  value = 0;
  /** Wire type 2: where its bytes lie. */
  start = 0;
  stop = 0;

  /** Starts on a message (the event store hands Buffers already: a view is made only for a plain Uint8Array). */
  reset(data: Uint8Array): void {
    this.bytes = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.at = 0;
    this.end = this.bytes.length;
  }

  /**
   * Reads the next field: 1 when one was read, 0 at the message's end, -1 for bytes that are not a
   * message this reader takes (truncated, an unknown wire type). Fixed-width fields are skipped.
   */
  next(): number {
    const bytes = this.bytes;
    const end = this.end;
    for (;;) {
      let at = this.at;
      if (at >= end) return at === end ? 0 : -1;
      // Tags and lengths: varints of at most 5 bytes here.
      let tag = 0;
      let shift = 0;
      let byte: number;
      do {
        if (at >= end || shift > 28) return -1;
        byte = bytes[at++]!;
        tag |= (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
      const wire = tag & 7;
      if (wire === 0) {
        let value = 0;
        let multiplier = 1;
        do {
          if (at >= end || multiplier > 2 ** 63) return -1;
          byte = bytes[at++]!;
          value += (byte & 0x7f) * multiplier;
          multiplier *= 128;
        } while (byte & 0x80);
        this.value = value;
      } else if (wire === 2) {
        let length = 0;
        shift = 0;
        do {
          if (at >= end || shift > 28) return -1;
          byte = bytes[at++]!;
          length |= (byte & 0x7f) << shift;
          shift += 7;
        } while (byte & 0x80);
        const stop = at + length;
        if (length < 0 || stop > end) return -1;
        this.start = at;
        this.stop = stop;
        at = stop;
      } else if (wire === 1 || wire === 5) {
        this.at = at + (wire === 1 ? 8 : 4);
        continue;
      } else {
        return -1;
      }
      this.at = at;
      this.field = tag >>> 3;
      this.wire = wire;
      return 1;
    }
  }

  /** The UTF-8 text of the field just read: `likely` itself when the bytes are that (ASCII) string. */
  text(likely: string): string {
    const { bytes, start, stop } = this;
    if (stop - start === likely.length) {
      let same = true;
      for (let i = 0; i < likely.length && same; i++) {
        const code = likely.charCodeAt(i);
        same = code < 0x80 && bytes[start + i] === code;
      }
      if (same) return likely;
    }
    return bytes.toString('utf8', start, stop);
  }
}
