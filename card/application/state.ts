import { fromHex, toHex } from '../crypto/bytes.js';
import type { CardKeys } from '../keys.js';
import type { PurseOperation } from './purse-macs.js';

/**
 * Where the card is in its life: blank from the factory, initialised by head office, finished at a
 * store, and terminated (its purse emptied with head office's consent) when handed back or replaced.
 */
export type Lifecycle = 'blank' | 'primary-issued' | 'secondary-issued' | 'terminated';

export const LIFECYCLE_CODE: Record<Lifecycle, number> = {
  blank: 0x00,
  'primary-issued': 0x01,
  'secondary-issued': 0x02,
  terminated: 0x03,
};

/** The lifecycle a GET DATA code names (undefined for a code no cardsys card uses). */
export function lifecycleOf(code: number): Lifecycle | undefined {
  return (Object.keys(LIFECYCLE_CODE) as Lifecycle[]).find((lifecycle) => LIFECYCLE_CODE[lifecycle] === code);
}

export const MAX_PIN_TRIES = 3;
export const LOG_CAPACITY = 10;
export const MAX_BALANCE = 10_000_000;
export const REMEMBERED_AUTHORISATIONS = 16;

export interface LogEntry {
  readonly operation: PurseOperation;
  readonly amount: number;
  /** The transaction counter value this operation got. */
  readonly counter: number;
  readonly balanceAfter: number;
  /** Seconds since the Unix epoch, as the terminal stated it. */
  readonly time: number;
  readonly terminalId: Uint8Array;
  readonly mac: Uint8Array;
}

export interface Issued {
  readonly cardId: Uint8Array;
  readonly keyVersion: number;
  /** Last month of validity, "YYYYMM". */
  readonly expiry: string;
  readonly authCode: Uint8Array;
  readonly keys: CardKeys;
  readonly pin: string;
  readonly pinTriesLeft: number;
  /** PIN unblocks (RESET RETRY COUNTER) done so far: head office's unblock MAC is bound to it. */
  readonly pinResets: number;
  /** 14 digits: bank code (4), branch code (3), account number (7). */
  readonly bankId: string;
  /** The personal data record (TLV) written at secondary issuance. */
  readonly personal: Uint8Array | undefined;
  readonly balance: number;
  readonly counter: number;
  readonly dataMac: Uint8Array;
  /** Newest first. */
  readonly log: readonly LogEntry[];
  readonly usedAuthorisations: readonly Uint8Array[];
}

/** Everything the chip keeps in non-volatile memory. */
export interface CardState {
  readonly lifecycle: Lifecycle;
  /** The manufacturer's transport key that opens a blank card for initialisation. */
  readonly transportKey: Uint8Array;
  readonly issued: Issued | undefined;
}

export function newBlankCard(transportKey: Uint8Array): CardState {
  if (transportKey.length !== 16) throw new Error('transport key must be 16 bytes');
  return { lifecycle: 'blank', transportKey, issued: undefined };
}

// The state file is JSON with bytes as hex, so that a person can read it (and a test can tamper with it).

interface LogEntryJson {
  operation: PurseOperation;
  amount: number;
  counter: number;
  balanceAfter: number;
  time: number;
  terminalId: string;
  mac: string;
}

export function cardStateToJson(state: CardState): unknown {
  const issued = state.issued;
  return {
    format: 'cardsys-card/1',
    lifecycle: state.lifecycle,
    transportKey: toHex(state.transportKey),
    issued: issued && {
      cardId: toHex(issued.cardId),
      keyVersion: issued.keyVersion,
      expiry: issued.expiry,
      authCode: toHex(issued.authCode),
      keys: {
        terminal: toHex(issued.keys.terminal),
        data: toHex(issued.keys.data),
        credit: toHex(issued.keys.credit),
        transaction: toHex(issued.keys.transaction),
      },
      pin: issued.pin,
      pinTriesLeft: issued.pinTriesLeft,
      pinResets: issued.pinResets,
      bankId: issued.bankId,
      personal: issued.personal ? toHex(issued.personal) : null,
      balance: issued.balance,
      counter: issued.counter,
      dataMac: toHex(issued.dataMac),
      log: issued.log.map((entry): LogEntryJson => ({ ...entry, terminalId: toHex(entry.terminalId), mac: toHex(entry.mac) })),
      usedAuthorisations: issued.usedAuthorisations.map(toHex),
    },
  };
}

export class CardStateFormatError extends Error {}

export function cardStateFromJson(json: unknown): CardState {
  const root = object(json, 'card state');
  if (root.format !== 'cardsys-card/1') throw new CardStateFormatError('card state: unknown format (expected "cardsys-card/1")');
  if (typeof root.lifecycle !== 'string' || !Object.hasOwn(LIFECYCLE_CODE, root.lifecycle)) {
    throw new CardStateFormatError(`card state: unknown lifecycle ${JSON.stringify(root.lifecycle)}`);
  }
  const lifecycle = root.lifecycle as Lifecycle;
  const transportKey = bytes(root.transportKey, 'transportKey', 16);
  if (lifecycle === 'blank') return { lifecycle, transportKey, issued: undefined };
  const raw = object(root.issued, 'issued');
  const keys = object(raw.keys, 'issued.keys');
  return {
    lifecycle,
    transportKey,
    issued: {
      cardId: bytes(raw.cardId, 'cardId', 8),
      keyVersion: integer(raw.keyVersion, 'keyVersion', 0, 255),
      expiry: string(raw.expiry, 'expiry', /^\d{6}$/),
      authCode: bytes(raw.authCode, 'authCode', 8),
      keys: {
        terminal: bytes(keys.terminal, 'keys.terminal', 16),
        data: bytes(keys.data, 'keys.data', 16),
        credit: bytes(keys.credit, 'keys.credit', 16),
        transaction: bytes(keys.transaction, 'keys.transaction', 16),
      },
      pin: string(raw.pin, 'pin', /^\d{4,8}$/),
      pinTriesLeft: integer(raw.pinTriesLeft, 'pinTriesLeft', 0, MAX_PIN_TRIES),
      // Cards saved before PIN unblock existed have never been unblocked.
      pinResets: integer(raw.pinResets ?? 0, 'pinResets', 0, 0xffffffff),
      bankId: string(raw.bankId, 'bankId', /^\d{14}$/),
      personal: raw.personal === null ? undefined : bytes(raw.personal, 'personal'),
      balance: integer(raw.balance, 'balance', 0, 0xffffffff),
      counter: integer(raw.counter, 'counter', 0, 0xffffffff),
      dataMac: bytes(raw.dataMac, 'dataMac', 8),
      log: array(raw.log, 'log').map((item, i) => {
        const entry = object(item, `log[${i}]`);
        const operation = entry.operation;
        if (operation !== 'credit' && operation !== 'debit' && operation !== 'unload')
          throw new CardStateFormatError(`card state: log[${i}].operation is not credit/debit/unload`);
        return {
          operation,
          amount: integer(entry.amount, `log[${i}].amount`, 0, 0xffffffff),
          counter: integer(entry.counter, `log[${i}].counter`, 0, 0xffffffff),
          balanceAfter: integer(entry.balanceAfter, `log[${i}].balanceAfter`, 0, 0xffffffff),
          time: integer(entry.time, `log[${i}].time`, 0, 0xffffffff),
          terminalId: bytes(entry.terminalId, `log[${i}].terminalId`, 8),
          mac: bytes(entry.mac, `log[${i}].mac`, 8),
        };
      }),
      usedAuthorisations: array(raw.usedAuthorisations, 'usedAuthorisations').map((item, i) => bytes(item, `usedAuthorisations[${i}]`, 8)),
    },
  };
}

function fail(field: string, problem: string): never {
  throw new CardStateFormatError(`card state: ${field} ${problem}`);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
  return value as Record<string, unknown>;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  return value;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(field, `must be an integer ${min}-${max}`);
  return value;
}

function string(value: unknown, field: string, pattern: RegExp): string {
  if (typeof value !== 'string' || !pattern.test(value)) fail(field, `must match ${pattern}`);
  return value;
}

function bytes(value: unknown, field: string, length?: number): Uint8Array {
  if (typeof value !== 'string') fail(field, 'must be a hex string');
  let out: Uint8Array;
  try {
    out = fromHex(value, field);
  } catch (error) {
    fail(field, (error as Error).message);
  }
  if (length !== undefined && out.length !== length) fail(field, `must be ${length} bytes`);
  return out;
}
