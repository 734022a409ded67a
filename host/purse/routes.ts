// Blacklist and purse alert routes: POST/DELETE /v1/cards/:cardId/blacklist, GET /v1/alerts and the
// card's purse as head office last saw it, GET /v1/cards/:cardId/purse.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type {} from '@fastify/swagger';
import { z } from 'zod';
import { ALERT_SEVERITIES, ApplicationInput, DomainRefusal } from '../../domain/index.js';
import type { PurseLedgerReader } from '../../projections/index.js';
import { sendBadRequest } from '../api/index.js';
import type { InquiryCentre } from './inquiry-centre.js';
import { bankIdDigits } from '../../card/index.js';

export interface PurseRoutesOptions {
  centre: InquiryCentre;
  ledger: PurseLedgerReader;
}

const CardParams = z.object({ cardId: z.string().regex(/^[0-9a-f]{16}$/, 'card id must be 16 lowercase hex digits') });
const ReasonBody = z.object(
  { reason: z.string({ error: 'reason is required' }).trim().min(1, 'reason is required').max(200, 'reason must be at most 200 characters') },
  { error: 'body must be a JSON object with a reason' },
);
const AlertQuery = z.object({
  cardId: CardParams.shape.cardId.optional(),
  severity: z.enum(ALERT_SEVERITIES, { error: `severity must be one of ${ALERT_SEVERITIES.join(', ')}` }).optional(),
  order: z.enum(['id', 'severity'], { error: 'order must be id or severity' }).default('id'),
  after: z.coerce.number().int('after must be an alert id').min(0, 'after must be an alert id').default(0),
  limit: z.coerce.number().int('limit must be a whole number').min(1, 'limit must be 1-1000').max(1000, 'limit must be 1-1000').default(100),
});

const AccountBody = z.object(
  {
    bankCode: ApplicationInput.shape.bank.shape.bankCode,
    branchCode: ApplicationInput.shape.bank.shape.branchCode,
    accountNumber: ApplicationInput.shape.bank.shape.accountNumber,
    balance: z.number({ error: 'balance is required' }).int('balance must be whole yen').min(0, 'balance must not be negative').max(1_000_000_000_000, 'balance is too large'),
  },
  { error: 'body must be a JSON object with bankCode, branchCode, accountNumber and balance' },
);

const CONFLICT: Record<string, number> = { already_blacklisted: 409, not_blacklisted: 409, account_exists: 409 };

/** Answers a refusal that means "already so" with 409 and its reason; anything else goes on up. */
function sendConflict(reply: FastifyReply, error: unknown) {
  if (error instanceof DomainRefusal && CONFLICT[error.code]) return reply.code(CONFLICT[error.code]!).send({ error: error.code, message: error.message });
  throw error;
}

export function purseRoutes(options: PurseRoutesOptions): FastifyPluginAsync {
  const { centre, ledger } = options;
  return async (app) => {
    const change = (kind: 'blacklist' | 'reinstate') => async (request: { params: unknown; body: unknown }, reply: FastifyReply) => {
      const params = CardParams.safeParse(request.params);
      if (!params.success) return sendBadRequest(reply, params.error);
      const body = ReasonBody.safeParse(request.body ?? {});
      if (!body.success) return sendBadRequest(reply, body.error);
      try {
        const { version } = await centre.changeBlacklist(kind, params.data.cardId, body.data.reason);
        return reply.code(kind === 'blacklist' ? 201 : 200).send({ cardId: params.data.cardId, blacklisted: kind === 'blacklist', reason: body.data.reason, version });
      } catch (error) {
        return sendConflict(reply, error);
      }
    };

    app.post(
      '/v1/bank-accounts',
      {
        schema: {
          summary: "The bank's account feed: a customer account the inquiry centre may debit for loads",
          description: 'Body: { bankCode (4 digits), branchCode (3), accountNumber (7), balance (yen) }. 201; 409 when the account is already open.',
          tags: ['purse'],
        },
      },
      async (request, reply) => {
        const body = AccountBody.safeParse(request.body ?? {});
        if (!body.success) return sendBadRequest(reply, body.error);
        const bankId = bankIdDigits(body.data);
        try {
          await centre.openAccount(bankId, body.data.balance);
        } catch (error) {
          return sendConflict(reply, error);
        }
        return reply.code(201).send({ bankId, balance: body.data.balance });
      },
    );

    app.post(
      '/v1/cards/:cardId/blacklist',
      { schema: { summary: 'Blacklist a card (lost, stolen, misused); every store refuses it within seconds', description: 'Body: { reason }. 201; 409 when already blacklisted.', tags: ['purse'] } },
      change('blacklist'),
    );
    app.delete(
      '/v1/cards/:cardId/blacklist',
      { schema: { summary: 'Reinstate a blacklisted card', description: 'Body: { reason }. 200; 409 when the card is not blacklisted.', tags: ['purse'] } },
      change('reinstate'),
    );

    app.get(
      '/v1/alerts',
      {
        schema: {
          summary: 'Purse alerts: divergences head office found (counter gap or repeat, balance, card MAC, load without debit) and loads stuck past their deadline',
          description:
            'Query: cardId?, severity? (critical, high, warning), order? (id: oldest first, for paging with after; severity: open alerts first, most severe first — ' +
            'an account debited and the card not credited is critical), after? (alert id), limit? (1-1000).',
          tags: ['purse'],
        },
      },
      async (request, reply) => {
        const query = AlertQuery.safeParse(request.query ?? {});
        if (!query.success) return sendBadRequest(reply, query.error);
        const { cardId, severity, order, after, limit } = query.data;
        return { alerts: ledger.alerts({ cardId, severity, order, afterId: after, limit }) };
      },
    );

    app.get(
      '/v1/cards/:cardId/purse',
      { schema: { summary: "The card's purse as head office last saw it, its alerts and blacklist state", tags: ['purse'] } },
      async (request, reply) => {
        const params = CardParams.safeParse(request.params);
        if (!params.success) return sendBadRequest(reply, params.error);
        const view = purseViewOf(centre, ledger, params.data.cardId);
        if (!view) return reply.code(404).send({ error: 'not_found', message: `head office has seen no purse activity or blacklisting for card ${params.data.cardId}` });
        return view;
      },
    );
  };
}

/** What GET /v1/cards/:cardId/purse shows, for other card views to include. */
export function purseViewOf(centre: InquiryCentre, ledger: PurseLedgerReader, cardId: string) {
  const purse = ledger.card(cardId);
  const listed = centre.blacklistEntry(cardId);
  if (!purse && !listed) return undefined;
  return {
    cardId,
    purse: purse ?? null,
    blacklisted: listed ? { reason: listed.reason, since: new Date(listed.sinceMs).toISOString() } : null,
    alerts: ledger.alerts({ cardId, limit: 1000 }),
  };
}
