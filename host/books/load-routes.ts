// GET /v1/loads: every load by where it stands (authorised → debited → credit_started → credited →
// confirmed, or reversed), the ones stuck past their deadline marked overdue.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { PageLimit } from '../../contracts/index.js';
import { LOAD_STATES, type LoadState } from '../../domain/index.js';
import type { LoadTracks } from '../../projections/index.js';
import { useZodValidation } from '../api/index.js';

const LoadsQuery = z.object({
  state: z.enum(LOAD_STATES as [LoadState, ...LoadState[]], { error: `state must be one of ${LOAD_STATES.join(', ')}` }).optional(),
  overdue: z
    .enum(['true', 'false'], { error: 'overdue must be true or false' })
    .transform((text) => text === 'true')
    .optional(),
  after: z.string().max(64, 'after must be an authorisation id from a previous page').optional(),
  limit: PageLimit(1000, 100),
});

export function loadRoutes(loads: LoadTracks): FastifyPluginAsync {
  return async (app) => {
    useZodValidation(app);
    app.get(
      '/v1/loads',
      {
        schema: {
          summary: 'Loads by state; `overdue=true` for the ones stuck past their deadline (an alert is open on GET /v1/alerts)',
          description: `States: ${LOAD_STATES.join(' → ')}. Page with \`after\` = the previous page's \`next\`.`,
          tags: ['books'],
          querystring: LoadsQuery,
        },
        config: { responses: { 200: '{ loads, next }' } },
      },
      async (request) => {
        const { state, overdue, after, limit } = request.query as z.output<typeof LoadsQuery>;
        const page = loads.list({ state, overdue, after, limit });
        return { loads: page, next: page.length === limit ? (page.at(-1)?.authorizationId ?? null) : null };
      },
    );
  };
}
