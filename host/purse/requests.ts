import { z } from 'zod';
import { Yen } from '../../contracts/index.js';
import type { ChipView } from '../../domain/index.js';

const hex16 = (field: string) =>
  z.string({ error: `${field} is required` }).regex(/^[0-9a-f]{16}$/, `${field} must be 16 lowercase hex digits`);
const counter = z.number().int().min(0).max(0xffffffff);
const bankId = z.string().regex(/^\d{14}$/, 'bank_id must be 14 digits');

/** AuthoriseLoadRequest as the inquiry centre accepts it. */
export const AuthoriseRequest = z.object(
  {
    authorizationId: hex16('authorization_id'),
    cardId: hex16('card_id'),
    bankId,
    amount: Yen,
    cardCounter: counter,
    cardBalance: z.number().int().min(0).default(0),
  },
  { error: 'authorise request is empty' },
);
export type AuthoriseRequest = z.infer<typeof AuthoriseRequest>;

/** PinUnblockRequest as the inquiry centre accepts it. */
export const PinUnblockRequest = z.object(
  {
    authorizationId: hex16('authorization_id'),
    cardId: hex16('card_id'),
    pinResets: counter,
    name: z.string().max(200, 'name must be at most 200 characters'),
    birthDate: z.string(),
  },
  { error: 'PIN unblock request is empty' },
);
export type PinUnblockRequest = z.infer<typeof PinUnblockRequest>;
/** AuthoriseRefundRequest as the inquiry centre accepts it (amount 0: the whole pay). */
export const AuthoriseRefundRequest = z.object(
  {
    refundId: hex16('refund_id'),
    payEventId: z.string().min(1, 'pay_event_id is required').max(64, 'pay_event_id must be at most 64 characters'),
    cardId: hex16('card_id'),
    amount: z.union([z.literal(0), Yen]),
    cardCounter: counter,
    cardBalance: z.number().int().min(0).default(0),
  },
  { error: 'refund request is empty' },
);
export type AuthoriseRefundRequest = z.infer<typeof AuthoriseRefundRequest>;

/** ReleaseRefundRequest as the inquiry centre accepts it. */
export const ReleaseRefundRequest = z.object({ refundId: hex16('refund_id') }, { error: 'refund release request is empty' });

/** One record of the chip's usage log (ChipCredit or ChipDebit). */
const LogRecord = z.object({
  amount: z.number().int().min(0),
  cardCounter: counter,
  newBalance: z.number().int().min(0),
  cardMac: z.instanceof(Uint8Array),
  atMs: z.number().int(),
  terminalId: z.instanceof(Uint8Array),
});
type LogRecord = z.infer<typeof LogRecord>;

/** What a store read of the chip: its counter and usage log (the fields PendingLoadsRequest and ChipLog share). */
const ChipLog = {
  cardCounter: counter,
  credits: z.array(LogRecord).default([]),
  debits: z.array(LogRecord).default([]),
  logCoversFromCounter: counter.default(0),
};

/** PendingLoadsRequest as the inquiry centre accepts it. */
export const PendingRequest = z.object(
  {
    cardId: hex16('card_id'),
    ...ChipLog,
    logRead: z.boolean().default(false),
    canCredit: z.boolean().default(false),
  },
  { error: 'pending request is empty' },
);
export type PendingRequest = z.infer<typeof PendingRequest>;

/** ReleaseLoadRequest as the inquiry centre accepts it: the chip's log once the store sent the credit. */
export const ReleaseRequest = z.object(
  {
    authorizationId: z.string(),
    chip: z.object(ChipLog).optional().nullable(),
  },
  { error: 'release request is empty' },
);
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** AuthoriseUnloadRequest (a card's return) as the inquiry centre accepts it. */
export const UnloadRequest = z.object(
  {
    authorizationId: hex16('authorization_id'),
    cardId: hex16('card_id'),
    bankId,
    cardCounter: counter,
    cardBalance: z.number().int().min(0).default(0),
    chip: z.object(ChipLog).optional().nullable(),
    lostCard: z.boolean().default(false),
  },
  { error: 'unload request is empty' },
);
export type UnloadRequest = z.infer<typeof UnloadRequest>;

/** The chip as a store reports it, its log's records in one list (their MACs still to be verified). */
export function chipViewOf(
  storeId: string,
  log: { cardCounter: number; credits: LogRecord[]; debits: LogRecord[]; logCoversFromCounter: number },
): ChipView {
  const record = (operation: 'credit' | 'debit') => (r: LogRecord) => ({
    operation,
    amount: r.amount,
    cardCounter: r.cardCounter,
    newBalance: r.newBalance,
    terminalId: r.terminalId,
    cardMac: r.cardMac,
  });
  return {
    storeId,
    cardCounter: log.cardCounter,
    records: [...log.credits.map(record('credit')), ...log.debits.map(record('debit'))],
    logCoversFromCounter: log.logCoversFromCounter,
  };
}
