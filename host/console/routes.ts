// The routes head office's console reads besides the query API's own: the overview (and its live
// feed), activity for the charts, a store's page, card search, a card's timeline without personal
// data, and an operator's resolution of an alert.
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CardId, StoreId } from '../../contracts/index.js';
import type { BusinessDayRule } from '../../domain/index.js';
import { businessDayBounds, businessDayOf } from '../../domain/index.js';
import type { EventStore } from '../../eventstore/index.js';
import { ActivityReader, IssuanceSnapshotReader, PurseLedgerReader, ReadModelQueries } from '../../projections/index.js';
import { ApiRefusal, cardEvents, NotFoundError, strictBody, useZodValidation } from '../api/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { OverviewReader } from './overview.js';
import type { StoreContacts } from './store-contacts.js';
import { timelineEntry } from './timeline.js';

export interface ConsoleRoutesOptions {
  readModels: Database.Database;
  store: EventStore;
  contacts: StoreContacts;
  businessDay: BusinessDayRule;
  /** Head office's current blacklist version. */
  blacklistVersion: () => number;
  /** Head office's writer (throws on a follower: 503). */
  hqWriter: () => HqWriter;
  /** How often the live feed looks for a change to send; a change of a store's liveness is sent at once. */
  feedCheckMs?: number;
}

const HOUR_MS = 3_600_000;
const StoreParams = z.object({ storeId: StoreId });
const CardParams = z.object({ cardId: CardId });
const AlertParams = z.object({ alertId: z.coerce.number().int('alert id must be a whole number').min(1, 'alert id must be 1 or more') });
const CardSearch = z
  .object({
    userId: z.string().min(1).max(64).optional(),
    bankId: z
      .string()
      .regex(/^\d{14}$/, 'bank id must be 14 digits: bank code, branch code, account number')
      .optional(),
  })
  .refine((query) => (query.userId === undefined) !== (query.bankId === undefined), { message: 'name one of userId or bankId' });
const ResolutionBody = strictBody(
  { note: z.string({ error: 'note is required' }).trim().min(1, 'note is required').max(500, 'note must be at most 500 characters') },
  'a note',
);
const ActivityQuery = z.object({
  hours: z.coerce.number().int('hours must be whole').min(1, 'hours must be 1 to 168').max(168, 'hours must be 1 to 168').default(24),
});

/** Most time a live feed stays open: the console opens a new one (and its token is checked again). */
const FEED_MAX_MS = 10 * 60_000;
/** A comment line this often keeps proxies from closing a quiet feed. */
const KEEP_ALIVE_MS = 15_000;

export function consoleRoutes(options: ConsoleRoutesOptions): FastifyPluginAsync {
  const { readModels, store, contacts } = options;
  const queries = new ReadModelQueries(readModels);
  const activity = new ActivityReader(readModels);
  const ledger = new PurseLedgerReader(readModels);
  const snapshots = new IssuanceSnapshotReader(readModels);
  const overviews = new OverviewReader(readModels, contacts, options.businessDay, options.blacklistVersion);

  return async (app) => {
    useZodValidation(app);

    app.get(
      '/v1/overview',
      {
        schema: {
          summary: "Every store's sync state and liveness, the business day's totals, open loads and open alerts",
          tags: ['console'],
        },
        config: { responses: { 200: '{ at, offlineAfterMs, blacklistVersion, stores, today, openLoads, alerts }' } },
      },
      async () => overviews.overview(),
    );

    app.get(
      '/v1/overview/stream',
      {
        schema: {
          summary: 'The overview as server-sent events (text/event-stream): one `data:` line of JSON now and again whenever it changes',
          description:
            'A store going silent shows within a second of its silence passing offlineAfterMs; the feed closes after 10 minutes (open it again).',
          tags: ['console'],
        },
        config: { responses: { 200: 'text/event-stream of overviews' } },
      },
      (request, reply) => {
        reply.hijack();
        const raw = reply.raw;
        raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-store',
          connection: 'keep-alive',
          'x-request-id': request.id,
        });
        let last = '';
        const send = () => {
          const overview = overviews.overview();
          // Ages move every second; the page counts them on. Send when anything else changed.
          const key = JSON.stringify({ ...overview, at: '', stores: overview.stores.map((s) => ({ ...s, silentForMs: null })) });
          if (key === last) return;
          last = key;
          raw.write(`data: ${JSON.stringify(overview)}\n\n`);
        };
        send();
        const check = setInterval(send, options.feedCheckMs ?? 500);
        const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
        const unsubscribe = contacts.onChange(send);
        const close = () => {
          clearInterval(check);
          clearInterval(keepAlive);
          clearTimeout(limit);
          unsubscribe();
          raw.end();
        };
        const limit = setTimeout(close, FEED_MAX_MS);
        request.raw.once('close', close);
      },
    );

    app.get(
      '/v1/activity',
      {
        schema: {
          summary:
            'Events per minute per store (the last hour), and issuances, loads, pays and declines per hour, as the stores reported them',
          tags: ['console'],
          querystring: ActivityQuery,
        },
        config: { responses: { 200: '{ eventsPerMinute, perHour }' } },
      },
      async (request) => {
        const { hours } = request.query as z.output<typeof ActivityQuery>;
        const now = Date.now();
        return { eventsPerMinute: activity.eventsPerMinute(now - HOUR_MS), perHour: activity.perHour(now - hours * HOUR_MS) };
      },
    );

    app.get(
      '/v1/stores/:storeId/activity',
      {
        schema: {
          summary:
            "A store's page: its sync history (each batch head office stored, how far behind and how late), the business day's takings, its terminals, its issuance backlog",
          tags: ['console'],
          params: StoreParams,
        },
        config: { responses: { 200: '{ storeId, sync, contact, batches, today, terminals, backlog }', 404: 'not_found: no such store' } },
      },
      async (request) => {
        const { storeId } = request.params as z.output<typeof StoreParams>;
        const sync = queries.storeSync(storeId);
        if (!sync) throw new NotFoundError(`no store ${storeId}`);
        const now = Date.now();
        const day = businessDayOf(now, options.businessDay);
        const { opensAtMs } = businessDayBounds(day, options.businessDay);
        const overview = overviews.overview(now).stores.find((entry) => entry.storeId === storeId);
        return {
          storeId,
          sync,
          contact: overview ?? null,
          batches: activity.batches(storeId, 200),
          today: { businessDay: day, from: new Date(opensAtMs).toISOString(), ...activity.totals(opensAtMs, now + 1, storeId) },
          terminals: activity.terminals(storeId),
          backlog: snapshots.backlog(storeId),
        };
      },
    );

    app.get(
      '/v1/cards',
      {
        schema: {
          summary:
            "Find cards by the user they belong to or by the bank account (a bank id is personal data: clerks' and auditors' search)",
          tags: ['console'],
          querystring: CardSearch,
        },
        config: {
          responses: {
            200: '{ cards: [{ cardId, userId, blacklisted, issuedAtStore }] }',
            403: 'forbidden: searching by bank id needs a role that sees personal data',
          },
        },
      },
      async (request) => {
        const query = request.query as z.output<typeof CardSearch>;
        if (query.bankId !== undefined && !request.access?.personal)
          throw new ApiRefusal(403, {
            error: 'forbidden',
            message: 'a bank id is personal data: searching by it needs the role clerk or auditor',
          });
        const cards = queries.cardsOf(query.bankId !== undefined ? { bankId: query.bankId } : { userId: query.userId! });
        return {
          cards: cards.map((card) => ({
            cardId: card.cardId,
            userId: card.userId,
            blacklisted: card.blacklisted,
            issuedAtStore: card.issuance?.storeId ?? null,
          })),
        };
      },
    );

    app.get(
      '/v1/cards/:cardId/timeline',
      {
        schema: {
          summary:
            "A card's history without personal data: each event's kind, time, store, terminal, amount, balance after and counter; with its purse alerts",
          tags: ['console'],
          params: CardParams,
        },
        config: { responses: { 200: '{ cardId, entries, alerts }', 404: 'not_found: no such card' } },
      },
      async (request) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const { events } = await cardEvents(queries, store, cardId, { limit: 500 });
        if (events.length === 0 && !queries.card(cardId)) throw new NotFoundError(`no card ${cardId}`);
        return { cardId, entries: events.map(timelineEntry), alerts: ledger.alerts({ cardId, limit: 1000 }) };
      },
    );

    app.post(
      '/v1/alerts/:alertId/resolution',
      {
        schema: {
          summary: "Resolve an open purse alert with a note (recorded as AlertResolved in head office's chain)",
          description: 'Body: { note }.',
          tags: ['console'],
          params: AlertParams,
          body: ResolutionBody,
        },
        config: {
          responses: {
            201: '{ alertId, resolved: true, note, resolvedBy }',
            404: 'not_found: no such alert',
            409: 'already_resolved',
          },
        },
      },
      async (request, reply) => {
        const { alertId } = request.params as z.output<typeof AlertParams>;
        const { note } = request.body as z.output<typeof ResolutionBody>;
        const [alert] = ledger.alerts({ afterId: alertId - 1, limit: 1 });
        if (!alert || alert.alertId !== alertId) throw new NotFoundError(`no alert ${alertId}`);
        if (alert.resolved) return reply.code(409).send({ error: 'already_resolved', message: `alert ${alertId} is resolved already` });
        const resolvedBy = request.access?.caller.subject ?? '';
        await options.hqWriter().append([
          {
            event: { type: 'AlertResolved', data: { alertId, cardId: alert.cardId, raisedByEventId: alert.eventId, note, resolvedBy } },
            streamId: `card-${alert.cardId}`,
          },
        ]);
        return reply.code(201).send({ alertId, resolved: true, note, resolvedBy });
      },
    );
  };
}
