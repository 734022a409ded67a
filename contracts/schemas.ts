import { z } from 'zod';

/** A store id: letters, digits, '-' and '_', 1 to 32 characters ("hq" is head office's own origin). */
export const StoreId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,32}$/, 'store id must be 1-32 letters, digits, "-" or "_"')
  .refine((id) => id !== 'hq', 'store id "hq" is reserved for head office');

/** A POS terminal's id within its store: 1-32 letters, digits, '-' and '_' (a NATS subject token). */
export const TerminalId = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'terminal id must be 1-32 letters, digits, "-" or "_"');
/** The terminal a store has when none is named. */
export const DEFAULT_TERMINAL_ID = 'pos-1';

/**
 * The name a card records (as the first 8 bytes of its SHA-256) and MACs for a terminal, and the
 * terminal id events carry: it names the store and the terminal, so no two stores' terminals share one.
 */
export const storeTerminalName = (storeId: string, terminalId: string) => `${storeId}/${terminalId}`;

/** A card id as API paths and queries carry it: 16 lowercase hex digits. */
export const CardId = z.string().regex(/^[0-9a-f]{16}$/, 'card id must be 16 lowercase hex digits');

/** Amounts of money are whole yen. */
export const Yen = z
  .number()
  .int('amount must be whole yen')
  .positive('amount must be positive')
  .max(10_000_000, 'amount must be at most 10,000,000 yen');

/** A page size in a query string: 1 to `max`, `fallback` when absent. */
export const PageLimit = (max: number, fallback: number) =>
  z.coerce
    .number()
    .int('limit must be a whole number')
    .min(1, `limit must be 1-${max}`)
    .max(max, `limit must be 1-${max}`)
    .default(fallback);

/** Where a page of events starts: the position after which to read, from a previous page. */
export const AfterPosition = z
  .string()
  .regex(/^\d{1,20}$/, 'after must be a position (a whole number) from a previous page')
  .transform((text) => BigInt(text))
  .optional();
