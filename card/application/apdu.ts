import { concat, toHex } from '../crypto/bytes.js';

/** A parsed short command APDU (ISO/IEC 7816-4 §5.1). `le` is undefined when absent, 256 for 00. */
export interface CommandApdu {
  readonly cla: number;
  readonly ins: number;
  readonly p1: number;
  readonly p2: number;
  readonly data: Uint8Array;
  readonly le: number | undefined;
}

export class MalformedApduError extends Error {}

export function parseCommandApdu(bytes: Uint8Array): CommandApdu {
  if (bytes.length < 4) throw new MalformedApduError(`command APDU needs at least 4 bytes, got ${bytes.length}`);
  const [cla, ins, p1, p2] = [bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!];
  if (bytes.length === 4) return { cla, ins, p1, p2, data: new Uint8Array(0), le: undefined };
  const first = bytes[4]!;
  if (bytes.length === 5) return { cla, ins, p1, p2, data: new Uint8Array(0), le: first === 0 ? 256 : first };
  if (first === 0) throw new MalformedApduError('extended-length APDUs are not supported');
  const dataEnd = 5 + first;
  if (bytes.length === dataEnd) return { cla, ins, p1, p2, data: bytes.slice(5, dataEnd), le: undefined };
  if (bytes.length === dataEnd + 1) {
    const le = bytes[dataEnd]!;
    return { cla, ins, p1, p2, data: bytes.slice(5, dataEnd), le: le === 0 ? 256 : le };
  }
  throw new MalformedApduError(`Lc says ${first} data bytes but the APDU carries ${bytes.length - 5}`);
}

/** Builds a short command APDU; `le` 256 is encoded as 00. */
export function buildCommandApdu(apdu: { cla: number; ins: number; p1: number; p2: number; data?: Uint8Array; le?: number }): Uint8Array {
  const data = apdu.data ?? new Uint8Array(0);
  if (data.length > 255) throw new Error(`command data too long for a short APDU: ${data.length} bytes`);
  const header = Uint8Array.of(apdu.cla, apdu.ins, apdu.p1, apdu.p2);
  const body = data.length > 0 ? concat(Uint8Array.of(data.length), data) : new Uint8Array(0);
  const le = apdu.le === undefined ? new Uint8Array(0) : Uint8Array.of(apdu.le === 256 ? 0 : apdu.le);
  return concat(header, body, le);
}

export interface ResponseApdu {
  readonly data: Uint8Array;
  readonly sw: number;
}

export function parseResponseApdu(bytes: Uint8Array): ResponseApdu {
  if (bytes.length < 2) throw new MalformedApduError(`response APDU needs a status word, got ${bytes.length} bytes`);
  return { data: bytes.slice(0, -2), sw: (bytes[bytes.length - 2]! << 8) | bytes[bytes.length - 1]! };
}

export function encodeResponseApdu(response: ResponseApdu): Uint8Array {
  return concat(response.data, Uint8Array.of(response.sw >> 8, response.sw & 0xff));
}

export function swHex(sw: number): string {
  return sw.toString(16).toUpperCase().padStart(4, '0');
}

export function apduHex(bytes: Uint8Array): string {
  return toHex(bytes).toUpperCase();
}

/** Status words the application returns (ISO/IEC 7816-4 §5.6 and the application specification). */
export const SW = {
  OK: 0x9000,
  AUTHENTICATION_FAILED: 0x6300,
  /** The application is terminated (returned or replaced): it answers only SELECT and GET DATA. */
  TERMINATED: 0x6285,
  MEMORY_FAILURE: 0x6581,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS_NOT_SATISFIED: 0x6982,
  AUTH_METHOD_BLOCKED: 0x6983,
  REFERENCE_DATA_NOT_USABLE: 0x6984,
  CONDITIONS_NOT_SATISFIED: 0x6985,
  SM_DATA_INCORRECT: 0x6988,
  WRONG_DATA: 0x6a80,
  FILE_NOT_FOUND: 0x6a82,
  RECORD_NOT_FOUND: 0x6a83,
  NOT_ENOUGH_MEMORY: 0x6a84,
  WRONG_P1P2: 0x6a86,
  REFERENCED_DATA_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

/** 63Cx: verification failed, x tries left. */
export function swTriesLeft(tries: number): number {
  return 0x63c0 | (tries & 0x0f);
}

/** Human meaning of a status word, for error messages. */
export function describeStatusWord(sw: number): string {
  if ((sw & 0xfff0) === 0x63c0) return `wrong PIN, ${sw & 0x0f} tries left`;
  if ((sw & 0xff00) === 0x6100) return `${sw & 0xff} more response bytes available`;
  if ((sw & 0xff00) === 0x6c00) return `wrong Le, the card has ${sw & 0xff} bytes`;
  switch (sw) {
    case SW.OK:
      return 'success';
    case SW.AUTHENTICATION_FAILED:
      return 'authentication failed (wrong cryptogram or authorisation MAC)';
    case SW.TERMINATED:
      return 'card terminated (returned or replaced): it takes no more commands';
    case SW.MEMORY_FAILURE:
      return 'purse integrity check failed on the card (data MAC mismatch)';
    case SW.WRONG_LENGTH:
      return 'wrong length';
    case SW.SECURITY_STATUS_NOT_SATISFIED:
      return 'security status not satisfied (authenticate or verify the PIN first)';
    case SW.AUTH_METHOD_BLOCKED:
      return 'PIN blocked';
    case SW.REFERENCE_DATA_NOT_USABLE:
      return 'authorisation already used (replayed)';
    case SW.CONDITIONS_NOT_SATISFIED:
      return 'conditions of use not satisfied';
    case SW.SM_DATA_INCORRECT:
      return 'secure messaging data incorrect';
    case SW.WRONG_DATA:
      return 'incorrect data';
    case SW.FILE_NOT_FOUND:
      return 'application or file not found';
    case SW.RECORD_NOT_FOUND:
      return 'record not found';
    case SW.NOT_ENOUGH_MEMORY:
      return 'purse limit exceeded';
    case SW.WRONG_P1P2:
      return 'incorrect P1/P2';
    case SW.REFERENCED_DATA_NOT_FOUND:
      return 'referenced data not found';
    case SW.INS_NOT_SUPPORTED:
      return 'instruction not supported';
    case SW.CLA_NOT_SUPPORTED:
      return 'class not supported';
    default:
      return 'unexpected status';
  }
}
