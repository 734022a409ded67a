import { MAX_PERSONAL_RECORD, PERSONAL_TAG } from './commands.js';
import { decodeTlv, encodeTlv } from './tlv.js';

// The personal record (specification §3.1) as the chip holds it: one TLV entry per field, values in
// UTF-8, each at most 255 bytes (a one-byte length), the whole record at most 1024 bytes with the
// bank ID. Head office checks an application against these limits; the terminal builds the record.

/** The personal fields the chip keeps, as text. */
export interface PersonalFields {
  readonly name: string;
  readonly address: string;
  /** "YYYY-MM-DD". */
  readonly birthDate: string;
  readonly occupation: string;
  readonly affiliation: string;
}

/** A TLV value holds at most this many bytes. */
const MAX_PERSONAL_FIELD = 255;

/** Bank ID: 14 ASCII digits, written as the record's last entry. */
const BANK_ID_LENGTH = 14;
const TLV_HEADER = 2;

const PERSONAL_FIELDS: ReadonlyArray<readonly [keyof PersonalFields, number]> = [
  ['name', PERSONAL_TAG.NAME],
  ['address', PERSONAL_TAG.ADDRESS],
  ['birthDate', PERSONAL_TAG.BIRTH_DATE],
  ['occupation', PERSONAL_TAG.OCCUPATION],
  ['affiliation', PERSONAL_TAG.AFFILIATION],
];

/** Why the chip cannot hold these fields: the field (or "record") and its size in bytes. */
export interface PersonalRecordProblem {
  readonly field: keyof PersonalFields | 'record';
  readonly bytes: number;
  readonly limit: number;
  readonly message: string;
}

const utf8 = new TextEncoder();

/** undefined when the chip can hold the fields; otherwise the first field (or the record) over its limit. */
export function personalRecordProblem(fields: { readonly [F in keyof PersonalFields]?: string | null }): PersonalRecordProblem | undefined {
  let total = TLV_HEADER + BANK_ID_LENGTH;
  for (const [field] of PERSONAL_FIELDS) {
    const bytes = utf8.encode(fields[field] ?? '').length;
    if (bytes > MAX_PERSONAL_FIELD) {
      return {
        field,
        bytes,
        limit: MAX_PERSONAL_FIELD,
        message: `${field} is ${bytes} bytes in UTF-8; the card holds at most ${MAX_PERSONAL_FIELD} bytes a field`,
      };
    }
    total += TLV_HEADER + bytes;
  }
  if (total > MAX_PERSONAL_RECORD) {
    return {
      field: 'record',
      bytes: total,
      limit: MAX_PERSONAL_RECORD,
      message: `the personal data make a ${total}-byte record on the card; it holds at most ${MAX_PERSONAL_RECORD} bytes`,
    };
  }
  return undefined;
}

/** The chip cannot hold the personal data (checked before anything is sent to it). */
class PersonalRecordTooLongError extends Error {
  override name = 'PersonalRecordTooLongError';
  constructor(readonly problem: PersonalRecordProblem) {
    super(`personal data: ${problem.message}`);
  }
}

/** The record PERSONALISE writes; throws PersonalRecordTooLongError when the chip cannot hold it. */
export function encodePersonalRecord(fields: PersonalFields, bankIdDigits: string): Uint8Array {
  const problem = personalRecordProblem(fields);
  if (problem) throw new PersonalRecordTooLongError(problem);
  return encodeTlv([
    ...PERSONAL_FIELDS.map(([field, tag]) => [tag, utf8.encode(fields[field])] as const),
    [PERSONAL_TAG.BANK_ID, utf8.encode(bankIdDigits)],
  ]);
}

/** The fields and the bank ID digits of a personal record as read from the chip; undefined when it is not well-formed TLV. */
export function decodePersonalRecord(record: Uint8Array): { fields: PersonalFields; bankIdDigits: string } | undefined {
  const entries = decodeTlv(record);
  if (!entries) return undefined;
  const decoder = new TextDecoder();
  const text = (tag: number) => decoder.decode(entries.get(tag) ?? new Uint8Array(0));
  const fields = Object.fromEntries(PERSONAL_FIELDS.map(([field, tag]) => [field, text(tag)])) as unknown as PersonalFields;
  return { fields, bankIdDigits: text(PERSONAL_TAG.BANK_ID) };
}
