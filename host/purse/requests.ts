import { z } from 'zod';
import { Yen } from '../../contracts/index.js';

const hex16 = (field: string) =>
  z.string({ error: `${field} is required` }).regex(/^[0-9a-f]{16}$/, `${field} must be 16 lowercase hex digits`);
const counter = z.number().int().min(0).max(0xffffffff);

/** AuthoriseLoadRequest as the inquiry centre accepts it. */
export const AuthoriseRequest = z.object(
  {
    authorizationId: hex16('authorization_id'),
    cardId: hex16('card_id'),
    bankId: z.string().regex(/^\d{14}$/, 'bank_id must be 14 digits'),
    amount: Yen,
    cardCounter: counter,
    cardBalance: z.number().int().min(0).default(0),
  },
  { error: 'authorise request is empty' },
);
export type AuthoriseRequest = z.infer<typeof AuthoriseRequest>;

/** PendingLoadsRequest as the inquiry centre accepts it. */
export const PendingRequest = z.object(
  {
    cardId: hex16('card_id'),
    cardCounter: counter,
    credits: z
      .array(
        z.object({
          amount: z.number().int().min(0),
          cardCounter: counter,
          newBalance: z.number().int().min(0),
          cardMac: z.instanceof(Uint8Array),
          atMs: z.number().int(),
          terminalId: z.instanceof(Uint8Array),
        }),
      )
      .default([]),
    logCoversFromCounter: counter.default(0),
    logRead: z.boolean().default(false),
    canCredit: z.boolean().default(false),
  },
  { error: 'pending request is empty' },
);
export type PendingRequest = z.infer<typeof PendingRequest>;
