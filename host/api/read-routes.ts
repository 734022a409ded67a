import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { AfterPosition, PageLimit, StoreId } from '../../contracts/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { ReadModelQueries } from '../../projections/index.js';
import { NotFoundError, useZodValidation } from './http-errors.js';
import { cardEvents } from './card-events.js';

// The head office read side: users, cards and their history, and store sync status.

const Id = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(64, `${what} must be at most 64 characters`)
    .regex(/^[A-Za-z0-9_-]+$/, `${what} may hold only letters, digits, "-" and "_"`);

const UserParams = z.object({ userId: Id('user id') });
const CardParams = z.object({ cardId: Id('card id') });
const StoreParams = z.object({ storeId: StoreId });
const CardEventsQuery = z.object({
  after: AfterPosition,
  limit: PageLimit(500, 50),
});

/** The fields of a card's view that are personal data (the bank account): withheld from roles that do not see personal data. */
const PERSONAL_CARD_FIELDS = ['bankId'] as const;

function withoutPersonalFields(view: Record<string, unknown>): Record<string, unknown> {
  const kept = { ...view };
  for (const field of PERSONAL_CARD_FIELDS) delete kept[field];
  return { ...kept, withheld: [...PERSONAL_CARD_FIELDS] };
}

export interface ReadRoutesOptions {
  queries: ReadModelQueries;
  store: EventStore;
  cardViews: ReadonlyArray<(cardId: string) => Record<string, unknown> | undefined>;
}

export function readRoutes(options: ReadRoutesOptions): FastifyPluginAsync {
  const { queries, store, cardViews } = options;
  return async (app) => {
    useZodValidation(app);

    app.get(
      '/v1/users/:userId',
      {
        schema: { summary: 'A user: personal and bank data, home store, cards with chip usage', tags: ['user DB'], params: UserParams },
        config: { responses: { 200: 'the user', 404: 'not_found: no such user' } },
      },
      async (request) => {
        const { userId } = request.params as z.output<typeof UserParams>;
        const user = queries.user(userId);
        if (!user) throw new NotFoundError(`no user ${userId}`);
        return user;
      },
    );

    app.get(
      '/v1/cards/:cardId',
      {
        schema: {
          summary:
            'A card: owner, bank id, issuance (store, time, terminal), expiry, blacklist, closed (returned, or lost and captured at a store), chip usage, purse, alerts',
          tags: ['user DB'],
          params: CardParams,
        },
        config: {
          responses: {
            200: `the card; without ${PERSONAL_CARD_FIELDS.join(', ')} (named in \`withheld\`) for roles that do not see personal data`,
            404: 'not_found: no such card',
          },
        },
      },
      async (request) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const card = queries.card(cardId);
        if (!card) throw new NotFoundError(`no card ${cardId}`);
        const view: Record<string, unknown> = Object.assign({}, card, ...cardViews.map((part) => part(cardId)));
        return request.access?.personal ? view : withoutPersonalFields(view);
      },
    );

    app.get(
      '/v1/cards/:cardId/events',
      {
        schema: {
          summary: "A card's events, oldest first, decoded; page with `after` = the previous page's `next`",
          tags: ['user DB'],
          params: CardParams,
          querystring: CardEventsQuery,
        },
        config: { responses: { 200: '{ cardId, events, next }', 404: 'not_found: no such card' } },
      },
      async (request) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const { after, limit } = request.query as z.output<typeof CardEventsQuery>;
        if (!queries.card(cardId) && queries.cardEventPositions(cardId, { limit: 1 }).length === 0)
          throw new NotFoundError(`no card ${cardId}`);
        return { cardId, ...(await cardEvents(queries, store, cardId, { after, limit })) };
      },
    );

    app.get(
      '/v1/stores',
      { schema: { summary: 'Every known store with its sync status', tags: ['stores'] }, config: { responses: { 200: '{ stores }' } } },
      async () => ({ stores: queries.stores() }),
    );

    app.get(
      '/v1/stores/:storeId/sync',
      {
        schema: {
          summary: "A store's sync status: last sequence head office holds, the store's own head, events behind, last contact",
          tags: ['stores'],
          params: StoreParams,
        },
        config: { responses: { 200: "the store's sync status", 404: 'not_found: no such store' } },
      },
      async (request) => {
        const { storeId } = request.params as z.output<typeof StoreParams>;
        const sync = queries.storeSync(storeId);
        if (!sync) throw new NotFoundError(`no store ${storeId}`);
        return sync;
      },
    );
  };
}
