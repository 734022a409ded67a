// A lost or stolen card: POST /v1/cards/:cardId/loss (reported and blacklisted at once),
// POST /v1/cards/:cardId/replacement (a new card for the same user, primary issuance in head
// office's station) and GET /v1/cards/:cardId/replacement (where its balance stands).
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { NotFoundError, useZodValidation } from '../api/index.js';
import { IssueCardBody, sendIssuanceRefusal, type IssueCardRequest, type IssuedCard } from '../primary-issuance/index.js';
import type { InquiryCentre } from './inquiry-centre.js';
import { CardParams, ReasonBody, cardChange, sendConflict } from './routes.js';

export interface ReplacementRoutesOptions {
  centre: () => InquiryCentre;
  /** Primary issuance on the card in head office's station (IssuanceNotConfiguredError without one). */
  issueCard: (request: IssueCardRequest) => Promise<IssuedCard>;
}

export function replacementRoutes(options: ReplacementRoutesOptions): FastifyPluginAsync {
  const { centre, issueCard } = options;
  return async (app) => {
    useZodValidation(app);
    app.post(
      '/v1/cards/:cardId/loss',
      {
        schema: {
          summary: 'Report a card lost or stolen: it is blacklisted at once, and its balance waits for a replacement card',
          description: 'Body: { reason }. Who reported it is the caller, as the token names it.',
          tags: ['purse'],
          params: CardParams,
          body: ReasonBody,
        },
        config: {
          responses: {
            201: '{ cardId, reportedLost: true, blacklisted: true, reportedBy, version }',
            404: 'unknown_card: head office never issued the card',
            409: 'already_reported',
          },
        },
      },
      cardChange(201, async (cardId, reason, request) => {
        const reportedBy = request.access ? `${request.access.role}:${request.access.caller.subject}` : 'unknown';
        const { version } = await centre().reportLost(cardId, reportedBy, reason);
        return { cardId, reportedLost: true, blacklisted: true, reportedBy, version };
      }),
    );

    app.post(
      '/v1/cards/:cardId/replacement',
      {
        schema: {
          summary: "Replace a reported card: primary issuance of a new card for the same user in head office's station",
          description:
            'Body: { pin?: 4-8 digits } (a random one when omitted, returned once). The new card is then finished at any store that ' +
            "serves the user (`cardsys pos issue`), and takes the lost card's balance there once every store that saw the lost card " +
            'has replicated past the report (`cardsys pos replacement-credit`).',
          tags: ['purse'],
          params: CardParams,
          body: IssueCardBody,
        },
        config: {
          responses: {
            201: '{ replacedCardId, cardId, userId, bankId, expiry, keyVersion, eventId, pin }',
            409: 'not_reported, already_replaced, or card_not_issued (no blank card in the station); nothing is recorded',
            503: 'issuance_not_configured: head office runs without an issuance station',
          },
        },
      },
      async (request, reply) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const { pin } = request.body as z.output<typeof IssueCardBody>;
        try {
          const issued = await centre().issueReplacement(cardId, (userId) => issueCard({ userId, ...(pin ? { pin } : {}) }));
          return reply.code(201).send({ replacedCardId: cardId, ...issued });
        } catch (error) {
          return sendConflict(reply, error, () => sendIssuanceRefusal(reply, error));
        }
      },
    );

    app.get(
      '/v1/cards/:cardId/replacement',
      {
        schema: {
          summary:
            "A lost card's replacement (by the lost card or the new one): waiting for stores, transferred, or adjusted by a late movement",
          tags: ['purse'],
          params: CardParams,
        },
        config: {
          responses: {
            200: '{ cardId, userId, reportedAt, reportedBy, reason, newCardId, status, waitingFor, transferred, adjustments, moved }',
            404: 'not_found: the card is not reported lost, nor replaces one',
          },
        },
      },
      async (request) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const view = centre().replacement(cardId);
        if (!view) throw new NotFoundError(`card ${cardId} is not reported lost and replaces no lost card`);
        return view;
      },
    );
  };
}
