// Blacklist, bank account and purse alert routes: POST/DELETE /v1/cards/:cardId/blacklist, the bank's
// account feed (POST /v1/bank-accounts, GET /v1/bank-accounts/:bankId), GET /v1/alerts and the card's
// purse as head office last saw it, GET /v1/cards/:cardId/purse.

import type {} from '@fastify/swagger';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bankIdDigits } from '../../card/index.js';
import { CardId, PageLimit } from '../../contracts/index.js';
import { ALERT_SEVERITIES, ApplicationInput, DomainRefusal } from '../../domain/index.js';
import type { PurseLedgerReader } from '../../projections/index.js';
import { NotFoundError, strictBody, useZodValidation } from '../api/index.js';
import type { InquiryCentre } from './inquiry-centre.js';

export interface PurseRoutesOptions {
  /** The inquiry centre this instance runs now: the writer's, or a follower's that only reads. */
  centre: () => InquiryCentre;
  ledger: PurseLedgerReader;
}

export const CardParams = z.object({ cardId: CardId });
const BankParams = z.object({
  bankId: z.string().regex(/^\d{14}$/, 'bank id must be 14 digits: bank code, branch code, account number'),
});
export const ReasonBody = strictBody(
  {
    reason: z.string({ error: 'reason is required' }).trim().min(1, 'reason is required').max(200, 'reason must be at most 200 characters'),
  },
  'a reason',
);
const AlertQuery = z.object({
  cardId: CardId.optional(),
  severity: z.enum(ALERT_SEVERITIES, { error: `severity must be one of ${ALERT_SEVERITIES.join(', ')}` }).optional(),
  order: z.enum(['id', 'severity'], { error: 'order must be id or severity' }).default('id'),
  after: z.coerce.number().int('after must be an alert id').min(0, 'after must be an alert id').default(0),
  limit: PageLimit(1000, 100),
});

const AccountBody = strictBody(
  {
    bankCode: ApplicationInput.shape.bank.shape.bankCode,
    branchCode: ApplicationInput.shape.bank.shape.branchCode,
    accountNumber: ApplicationInput.shape.bank.shape.accountNumber,
    balance: z
      .number({ error: 'balance is required' })
      .int('balance must be whole yen')
      .min(0, 'balance must not be negative')
      .max(1_000_000_000_000, 'balance is too large'),
  },
  'bankCode, branchCode, accountNumber and balance',
);

const CONFLICT: Record<string, number> = {
  already_blacklisted: 409,
  not_blacklisted: 409,
  account_exists: 409,
  already_reported: 409,
  not_reported: 409,
  already_replaced: 409,
  other_user: 409,
  unknown_card: 404,
};

/** Answers a refusal that means "already so" (409) or names no card (404) with its reason; anything else goes on up. */
export function sendConflict(reply: FastifyReply, error: unknown, otherwise?: () => FastifyReply) {
  if (error instanceof DomainRefusal && CONFLICT[error.code])
    return reply.code(CONFLICT[error.code]!).send({ error: error.code, message: error.message });
  if (otherwise) return otherwise();
  throw error;
}

/** A change of a card for a reason (blacklisting, reinstating, a loss report): its answer, or a refusal as sendConflict answers it. */
export const cardChange =
  (code: number, change: (cardId: string, reason: string, request: FastifyRequest) => Promise<object>) =>
  async (request: FastifyRequest, reply: FastifyReply) => {
    const { cardId } = request.params as z.output<typeof CardParams>;
    const { reason } = request.body as z.output<typeof ReasonBody>;
    try {
      return reply.code(code).send(await change(cardId, reason, request));
    } catch (error) {
      return sendConflict(reply, error);
    }
  };

export function purseRoutes(options: PurseRoutesOptions): FastifyPluginAsync {
  const { centre, ledger } = options;
  return async (app) => {
    useZodValidation(app);
    const change = (kind: 'blacklist' | 'reinstate') =>
      cardChange(kind === 'blacklist' ? 201 : 200, async (cardId, reason) => {
        const { version } = await centre().changeBlacklist(kind, cardId, reason);
        return { cardId, blacklisted: kind === 'blacklist', reason, version };
      });

    app.post(
      '/v1/bank-accounts',
      {
        schema: {
          summary: "The bank's account feed: a customer account the inquiry centre may debit for loads",
          description: 'Body: { bankCode (4 digits), branchCode (3), accountNumber (7), balance (yen) }.',
          tags: ['purse'],
          body: AccountBody,
        },
        config: {
          responses: {
            201: '{ bankId, balance }: the account is open',
            409: 'account_exists: the account is already open',
          },
        },
      },
      async (request, reply) => {
        const body = request.body as z.output<typeof AccountBody>;
        const bankId = bankIdDigits(body);
        try {
          await centre().openAccount(bankId, body.balance);
        } catch (error) {
          return sendConflict(reply, error);
        }
        return reply.code(201).send({ bankId, balance: body.balance });
      },
    );

    app.get(
      '/v1/bank-accounts/:bankId',
      {
        schema: {
          summary: 'A customer account as the inquiry centre holds it: its balance after every debit and reversal so far',
          tags: ['purse'],
          params: BankParams,
        },
        config: {
          responses: {
            200: '{ bankId, balance }',
            404: 'not_found: no such account',
          },
        },
      },
      async (request) => {
        const { bankId } = request.params as z.output<typeof BankParams>;
        const balance = centre().accountBalance(bankId);
        if (balance === undefined) throw new NotFoundError(`no bank account ${bankId}`);
        return { bankId, balance };
      },
    );

    const blacklistSchema = {
      tags: ['purse'],
      params: CardParams,
      body: ReasonBody,
    };
    app.post(
      '/v1/cards/:cardId/blacklist',
      {
        schema: {
          ...blacklistSchema,
          summary: 'Blacklist a card (lost, stolen, misused); every store refuses it within seconds',
          description: 'Body: { reason }.',
        },
        config: {
          responses: {
            201: '{ cardId, blacklisted: true, reason, version }',
            409: 'already_blacklisted',
          },
        },
      },
      change('blacklist'),
    );
    app.delete(
      '/v1/cards/:cardId/blacklist',
      {
        schema: {
          ...blacklistSchema,
          summary: 'Reinstate a blacklisted card',
          description: 'Body: { reason }.',
        },
        config: {
          responses: {
            200: '{ cardId, blacklisted: false, reason, version }',
            409: 'not_blacklisted',
          },
        },
      },
      change('reinstate'),
    );

    app.get(
      '/v1/alerts',
      {
        schema: {
          summary:
            'Purse alerts: divergences head office found (counter gap or repeat, balance, card MAC, load without debit) and loads stuck past their deadline',
          description:
            'Query: cardId?, severity? (critical, high, warning), order? (id: oldest first, for paging with after; severity: open alerts first, most severe first — ' +
            'an account debited and the card not credited is critical), after? (alert id), limit? (1-1000).',
          tags: ['purse'],
          querystring: AlertQuery,
        },
        config: { responses: { 200: '{ alerts }' } },
      },
      async (request) => {
        const { cardId, severity, order, after, limit } = request.query as z.output<typeof AlertQuery>;
        return { alerts: ledger.alerts({ cardId, severity, order, afterId: after, limit }) };
      },
    );

    app.get(
      '/v1/cards/:cardId/purse',
      {
        schema: {
          summary: "The card's purse as head office last saw it, its alerts and blacklist state",
          tags: ['purse'],
          params: CardParams,
        },
        config: {
          responses: {
            200: '{ cardId, purse, blacklisted, blacklistReason, blacklistedSince, alerts }',
            404: 'not_found: no purse activity or blacklisting seen',
          },
        },
      },
      async (request) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const view = purseViewOf(centre(), ledger, cardId);
        if (!view) throw new NotFoundError(`head office has seen no purse activity or blacklisting for card ${cardId}`);
        return view;
      },
    );
  };
}

/** What GET /v1/cards/:cardId/purse shows, for other card views to include; blacklisting as GET /v1/users/:userId shows it. */
export function purseViewOf(centre: InquiryCentre, ledger: PurseLedgerReader, cardId: string) {
  const purse = ledger.card(cardId);
  const listed = centre.blacklistEntry(cardId);
  if (!purse && !listed) return undefined;
  return {
    cardId,
    purse: purse ?? null,
    blacklisted: listed !== undefined,
    blacklistReason: listed?.reason ?? null,
    blacklistedSince: listed ? new Date(listed.sinceMs).toISOString() : null,
    alerts: ledger.alerts({ cardId, limit: 1000 }),
  };
}
