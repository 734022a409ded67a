import { bankId, type BankId } from '../../card/index.js';

/*
 * ISO/IEC 7813 track 2: 5-bit characters (4 data bits + odd parity), start sentinel ';', field
 * separator '=', end sentinel '?', then the longitudinal redundancy check (LRC: XOR of the data
 * bits of every character from the start sentinel to the end sentinel, with its own odd parity).
 * Our layout:
 *
 *   ; PAN(15) = YYMM SSS [discretionary digits] ? LRC
 *     PAN = bank code(4) branch code(3) account number(7) Luhn check digit(1)
 *
 * As text (what a keyboard-wedge reader types) each character is its ASCII form '0'..'?', the LRC
 * too; many readers check the LRC themselves and leave it out, so in text it is optional.
 */

export interface Track2 {
  readonly bankId: BankId;
  /** Last month of validity, "YYYY-MM". */
  readonly expiry: string;
  /** 3 digits; 720 = private label, authorisation online by the issuer, PIN required. */
  readonly serviceCode: string;
  readonly discretionary: string;
}

export const DEFAULT_SERVICE_CODE = '720';
const MAX_TRACK2_CHARACTERS = 40;

export class StripeDataError extends Error {
  override readonly name = 'StripeDataError';
}

function value(character: string): number {
  return character.charCodeAt(0) - 0x30;
}

function lrcOf(framed: string): string {
  let lrc = 0;
  for (const character of framed) lrc ^= value(character);
  return String.fromCharCode(0x30 + lrc);
}

function luhnDigit(digits: string): string {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return String((10 - (sum % 10)) % 10);
}

/** The track as text, with sentinels and LRC. */
export function encodeTrack2(track: Track2): string {
  const id = bankId(track.bankId.bankCode, track.bankId.branchCode, track.bankId.accountNumber);
  const expiry = /^20(\d{2})-(0[1-9]|1[0-2])$/.exec(track.expiry);
  if (!expiry) throw new StripeDataError(`expiry must be "YYYY-MM" in 2000-2099, got "${track.expiry}"`);
  if (!/^\d{3}$/.test(track.serviceCode)) throw new StripeDataError(`service code must be 3 digits, got "${track.serviceCode}"`);
  if (!/^\d*$/.test(track.discretionary)) throw new StripeDataError('discretionary data must be digits');
  const account = `${id.bankCode}${id.branchCode}${id.accountNumber}`;
  const framed = `;${account}${luhnDigit(account)}=${expiry[1]}${expiry[2]}${track.serviceCode}${track.discretionary}?`;
  if (framed.length + 1 > MAX_TRACK2_CHARACTERS) throw new StripeDataError(`track 2 holds at most ${MAX_TRACK2_CHARACTERS} characters`);
  return framed + lrcOf(framed);
}

/** Parses track 2 text (as a keyboard-wedge reader types it); any malformation is a StripeDataError. */
export function decodeTrack2(text: string): Track2 {
  const line = text.replace(/[\r\n]+$/, '');
  if (line.length === 0) throw new StripeDataError('no track 2 data (empty swipe)');
  if (line[0] !== ';') throw new StripeDataError('track 2 data must start with the start sentinel ";"');
  const end = line.indexOf('?');
  if (end < 0) throw new StripeDataError('track 2 data has no end sentinel "?" (partial swipe?)');
  if (line.length > end + 2) throw new StripeDataError('unexpected characters after the end sentinel and LRC');
  const framed = line.slice(0, end + 1);
  if (framed.length + 1 > MAX_TRACK2_CHARACTERS) throw new StripeDataError(`track 2 holds at most ${MAX_TRACK2_CHARACTERS} characters`);
  const lrc = line[end + 1];
  if (lrc !== undefined) {
    if (lrc.charCodeAt(0) < 0x30 || lrc.charCodeAt(0) > 0x3f)
      throw new StripeDataError(`LRC character "${lrc}" is outside the track 2 character set`);
    if (lrc !== lrcOf(framed)) throw new StripeDataError(`LRC mismatch: read "${lrc}", data gives "${lrcOf(framed)}" (misread swipe)`);
  }
  const match = /^;(\d{15})=(\d{2})(\d{2})(\d{3})(\d*)\?$/.exec(framed);
  if (!match) {
    throw new StripeDataError('track 2 layout must be ;PAN(15 digits)=YYMM + service code(3) + digits?');
  }
  const [, pan, year, month, serviceCode, discretionary] = match as unknown as [string, string, string, string, string, string];
  if (luhnDigit(pan.slice(0, 14)) !== pan[14]) throw new StripeDataError('account number check digit is wrong (misread or forged stripe)');
  if (Number(month) < 1 || Number(month) > 12) throw new StripeDataError(`expiry month ${month} is not 01-12`);
  return {
    bankId: bankId(pan.slice(0, 4), pan.slice(4, 7), pan.slice(7, 14)),
    expiry: `20${year}-${month}`,
    serviceCode,
    discretionary,
  };
}

/** The 5-bit characters as written to the stripe: 4 data bits (least significant first in time) + odd parity in bit 4. */
export function track2ToBits(text: string): Uint8Array {
  const track = text.replace(/[\r\n]+$/, '');
  decodeTrack2(track);
  const withLrc = track.endsWith('?') ? track + lrcOf(track) : track;
  return Uint8Array.from(
    [...withLrc].map((character) => {
      const data = value(character);
      const ones = data.toString(2).split('1').length - 1;
      return data | (ones % 2 === 0 ? 0x10 : 0);
    }),
  );
}

/** Reads 5-bit characters back (parity and LRC checked) into track 2 text. */
export function track2FromBits(codes: Uint8Array): string {
  let text = '';
  for (const [index, code] of codes.entries()) {
    const ones = code.toString(2).split('1').length - 1;
    if (code > 0x1f || ones % 2 !== 1) throw new StripeDataError(`parity error in character ${index + 1} of the stripe`);
    text += String.fromCharCode(0x30 + (code & 0x0f));
  }
  if (!text.includes('?') || text.endsWith('?')) throw new StripeDataError('stripe data has no LRC after the end sentinel');
  decodeTrack2(text);
  return text;
}
