// POST /v1/users/:userId/cards: primary issuance on the card in one of head office's readers.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CardIdTakenError, UnknownUserError } from '../../domain/index.js';
import { CardReaderError, StripeDataError } from '../../reader/index.js';
import { NotFoundError, useZodValidation } from '../api/index.js';
import { issuePrimaryCard, type PrimaryIssuanceOptions } from './primary-issuance.js';

const Params = z.object({ userId: z.string().min(1, 'user id is required').max(128, 'user id must be at most 128 characters') });
const Body = z.object({
  reader: z.string({ error: 'reader is required (the PC/SC reader holding the blank card)' }).min(1, 'reader is required'),
  pin: z
    .string()
    .regex(/^\d{4,8}$/, 'PIN must be 4 to 8 digits')
    .optional(),
  stripe: z.string().min(1, 'stripe must name where the stripe goes').optional(),
});

export function primaryIssuanceRoutes(options: PrimaryIssuanceOptions): FastifyPluginAsync {
  return async (app) => {
    useZodValidation(app);
    app.post(
      '/v1/users/:userId/cards',
      {
        schema: {
          summary: "Primary issuance: initialise the blank card in head office's reader for this user",
          description:
            'Body: { reader: PC/SC reader name, pin?: 4-8 digits (random 4 digits when omitted; returned once, for the PIN mailer), ' +
            "stripe?: where the stripe encoder writes (a virtual card's state file) }. " +
            '201 with card id, bank id and expiry; 404 unknown user; 409 when the card cannot be issued (no card, not blank, reader trouble).',
          tags: ['issuance'],
          params: Params,
          body: Body,
        },
      },
      async (request, reply) => {
        const { userId } = request.params as z.output<typeof Params>;
        const body = request.body as z.output<typeof Body>;
        try {
          const card = await issuePrimaryCard(options, {
            userId,
            readerName: body.reader,
            ...(body.pin ? { pin: body.pin } : {}),
            ...(body.stripe ? { stripeTarget: body.stripe } : {}),
          });
          return reply.code(201).send(card);
        } catch (error) {
          if (error instanceof UnknownUserError) throw new NotFoundError(error.message);
          if (error instanceof CardIdTakenError) return reply.code(409).send({ error: error.code, message: error.message });
          if (error instanceof CardReaderError || error instanceof StripeDataError)
            return reply.code(409).send({ error: 'card_not_issued', message: `the card was not issued: ${error.message}` });
          throw error;
        }
      },
    );
  };
}
