// POST /v1/users/:userId/cards: primary issuance on the card in head office's issuance station.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { CardIdTakenError, UnknownUserError } from '../../domain/index.js';
import { CardReaderError } from '../../reader/index.js';
import { StripeDataError } from '../../reader/index.js';
import { NotFoundError, strictBody, useZodValidation } from '../api/index.js';
import { IssuanceNotConfiguredError, issuePrimaryCard, type PrimaryIssuanceOptions } from './primary-issuance.js';

const Params = z.object({ userId: z.string().min(1, 'user id is required').max(128, 'user id must be at most 128 characters') });
// The reader and the stripe encoder are head office's configuration: a body naming either (or
// anything else) is refused rather than ignored.
/** The body of a primary issuance: an optional PIN (the card reader and stripe encoder are head office's). */
export const IssueCardBody = strictBody(
  {
    pin: z
      .string()
      .regex(/^\d{4,8}$/, 'PIN must be 4 to 8 digits')
      .optional(),
  },
  'an optional pin',
  "; the card reader and stripe encoder are head office's configuration (cardsys host --issuance-reader, --issuance-stripe)",
);

export function primaryIssuanceRoutes(options: PrimaryIssuanceOptions): FastifyPluginAsync {
  return async (app) => {
    useZodValidation(app);
    app.post(
      '/v1/users/:userId/cards',
      {
        schema: {
          summary: "Primary issuance: initialise the blank card in head office's issuance station for this user",
          description:
            'Body: { pin?: 4-8 digits } (a random 4-digit PIN when omitted; returned once, for the PIN mailer). The card reader and the stripe ' +
            "encoder are head office's own (`cardsys host --issuance-reader --issuance-stripe`), never named by the caller.",
          tags: ['issuance'],
          params: Params,
          body: IssueCardBody,
        },
        config: {
          responses: {
            201: '{ cardId, userId, bankId, expiry, keyVersion, eventId, pin }',
            404: 'not_found: no such user',
            409: 'card_not_issued or card_id_taken: the card was not issued (no card, not blank, reader trouble); nothing is recorded',
            503: 'issuance_not_configured: head office runs without an issuance station',
          },
        },
      },
      async (request, reply) => {
        const { userId } = request.params as z.output<typeof Params>;
        const body = request.body as z.output<typeof IssueCardBody>;
        try {
          const card = await issuePrimaryCard(options, { userId, ...(body.pin ? { pin: body.pin } : {}) });
          return reply.code(201).send(card);
        } catch (error) {
          return sendIssuanceRefusal(reply, error);
        }
      },
    );
  };
}

/** Answers why a primary issuance did not happen (nothing was recorded); anything else goes on up. */
export function sendIssuanceRefusal(reply: FastifyReply, error: unknown) {
  if (error instanceof UnknownUserError) throw new NotFoundError(error.message);
  if (error instanceof IssuanceNotConfiguredError) return reply.code(503).send({ error: error.code, message: error.message });
  if (error instanceof CardIdTakenError) return reply.code(409).send({ error: error.code, message: error.message });
  if (error instanceof CardReaderError || error instanceof StripeDataError)
    return reply.code(409).send({ error: 'card_not_issued', message: `the card was not issued: ${error.message}` });
  throw error;
}
