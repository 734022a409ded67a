import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { bankId } from '../../card/index.js';
import {
  DEFAULT_SERVICE_CODE,
  decodeTrack2,
  encodeTrack2,
  KeyboardWedgeStripeReader,
  StripeDataError,
  track2FromBits,
  track2ToBits,
  virtualStripeFile,
  VirtualStripeReader,
  writeVirtualStripe,
  type Track2,
} from '../../reader/index.js';

const TRACK: Track2 = {
  bankId: bankId('0001', '234', '5678901'),
  expiry: '2030-12',
  serviceCode: DEFAULT_SERVICE_CODE,
  discretionary: '01',
};

describe('ISO/IEC 7813 track 2', () => {
  it('encodes the bank ID with check digit, expiry, service code, sentinels and LRC, and decodes it back', () => {
    const line = encodeTrack2(TRACK);
    // PAN 00012345678901 + Luhn digit 5; the LRC is the XOR of all characters' data bits.
    expect(line).toBe(';000123456789015=301272001?8');
    expect(decodeTrack2(line)).toEqual(TRACK);
    expect(decodeTrack2(`${line}\r\n`)).toEqual(TRACK);
  });

  it('accepts a swipe whose reader already stripped the LRC', () => {
    expect(decodeTrack2(';000123456789015=301272001?')).toEqual(TRACK);
  });

  it.each([
    ['', /empty swipe/],
    ['%B000123456789015^', /start sentinel/],
    [';000123456789015=3012720', /no end sentinel/],
    [';000123456789015=301272001?0', /LRC mismatch/],
    [';000123456789016=301272001?', /check digit/],
    [';00012345678901=301272001?', /layout/],
    [';000123456789015=301372001?', /month 13/],
    [';000123456789015=301272001?8X', /after the end sentinel/],
    [';000123456789015=3012720012345678901234567?', /at most 40/],
  ])('refuses %j with a clear error', (line, message) => {
    expect(() => decodeTrack2(line)).toThrow(StripeDataError);
    expect(() => decodeTrack2(line)).toThrow(message);
  });

  it('refuses to encode bad fields', () => {
    expect(() => encodeTrack2({ ...TRACK, expiry: '30-12' })).toThrow(/YYYY-MM/);
    expect(() => encodeTrack2({ ...TRACK, serviceCode: '72' })).toThrow(/service code/);
    expect(() => encodeTrack2({ ...TRACK, bankId: { ...TRACK.bankId, accountNumber: '12' } })).toThrow(/account number must be 7 digits/);
  });

  it('writes 5-bit characters with odd parity and reads them back, catching a flipped bit', () => {
    const bits = track2ToBits(encodeTrack2(TRACK));
    expect(bits[0]).toBe(0x0b); // ';' = 1011, three ones: parity bit 0
    expect(bits.every((code) => (code.toString(2).split('1').length - 1) % 2 === 1)).toBe(true);
    expect(track2FromBits(bits)).toBe(encodeTrack2(TRACK));
    const flipped = Uint8Array.from(bits);
    flipped[3]! ^= 0x01;
    expect(() => track2FromBits(flipped)).toThrow(/parity error in character 4/);
  });
});

describe('stripe readers', () => {
  it('reads swipes from a keyboard-wedge line stream, one per read', async () => {
    const input = new PassThrough();
    const reader = new KeyboardWedgeStripeReader(input);
    input.write(`${encodeTrack2(TRACK)}\n;garbage\n`);
    expect(await reader.read()).toEqual(TRACK);
    await expect(reader.read()).rejects.toThrow(StripeDataError);
    await expect(reader.read({ timeoutMs: 50 })).rejects.toThrow(/no swipe within 50 ms/);
    const pending = reader.read();
    input.end(`${encodeTrack2({ ...TRACK, expiry: '2031-01' })}\n`);
    expect((await pending).expiry).toBe('2031-01');
    await expect(reader.read()).rejects.toThrow(/closed/);
  });

  it("reads a virtual card's companion stripe file", async () => {
    const stateFile = join(mkdtempSync(join(tmpdir(), 'cardsys-stripe-')), 'card.json');
    await expect(new VirtualStripeReader(stateFile).read()).rejects.toThrow(/no stripe data for this card/);
    writeVirtualStripe(stateFile, TRACK);
    expect(await new VirtualStripeReader(stateFile).read()).toEqual(TRACK);
    writeFileSync(virtualStripeFile(stateFile), ';000123456789015=30127200');
    await expect(new VirtualStripeReader(stateFile).read()).rejects.toThrow(/end sentinel/);
  });
});
