// The float (value held on cards: the issuer's liability) as of any instant, by when movements
// happened at the stores and by when head office learnt of them, and the Payment Services Act's
// base-date report: GET /v1/float, /v1/float/cards (per card, CSV too), /v1/float/base-dates.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CardId, PageLimit } from '../../contracts/index.js';
import { DEPOSIT_THRESHOLD_YEN, businessDayBounds, depositBaseDates, depositDuty } from '../../domain/index.js';
import type { BooksReader, FloatFigure } from '../../projections/index.js';
import { useZodValidation } from '../api/index.js';
import { ReportFormat, sendCsv, wantsCsv } from './csv.js';

/** The end (last millisecond) of a local date: a base date's figures are as at its close. */
const endOfLocalDay = (day: string, utcOffsetMinutes: number) => businessDayBounds(day, { utcOffsetMinutes, cutoffHour: 0 }).closesAtMs - 1;

/** Stores named at most in a report; the count says how many there are. */
const MAX_STORES_LISTED = 100;

export interface FloatRoutesOptions {
  books: BooksReader;
  /** The time zone dates are read in (Japan: +540). */
  utcOffsetMinutes: number;
  now: () => number;
}

export function floatRoutes(options: FloatRoutesOptions): FastifyPluginAsync {
  const { books, utcOffsetMinutes, now } = options;
  const AsOf = z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return now();
      const ms = /^\d{4}-\d{2}-\d{2}$/.test(text)
        ? endOfLocalDay(text, utcOffsetMinutes)
        : /^\d{4}-\d{2}-\d{2}T/.test(text)
          ? Date.parse(text)
          : Number.NaN;
      if (Number.isNaN(ms)) {
        context.addIssue({
          code: 'custom',
          message: 'asOf must be an ISO 8601 instant (2026-03-31T15:00:00Z) or a date (YYYY-MM-DD: its end, Japan time)',
        });
        return z.NEVER;
      }
      return ms;
    });
  const FloatQuery = z.object({ asOf: AsOf, cardId: CardId.optional() });
  const CardsQuery = z.object({
    asOf: AsOf,
    after: CardId.optional(),
    limit: PageLimit(10_000, 1_000),
    format: ReportFormat,
  });
  const BaseDatesQuery = z.object({
    year: z.coerce
      .number({ error: 'year is required' })
      .int('year must be a whole number')
      .min(2000, 'year must be 2000-2999')
      .max(2999, 'year must be 2000-2999'),
  });

  const storesNotYetPast = (asOfMs: number) => {
    const stores = books.storesNotYetPast(asOfMs);
    return { count: stores.length, storeIds: stores.slice(0, MAX_STORES_LISTED) };
  };
  const withDuty = (figure: FloatFigure) => ({ ...figure, ...depositDuty(figure.total) });

  return async (app) => {
    useZodValidation(app);

    app.get(
      '/v1/float',
      {
        schema: {
          summary:
            'Value held on cards (loads − pays + refunds − unloads) as of an instant: by when it happened, and by when head office knew it',
          description:
            'asOf: an ISO 8601 instant, or a date (its end, Japan time); default now. ' +
            'Stores report late when offline: `storesNotYetPast` names stores whose log head office has not seen pass asOf (the figure by event time may still change for them). ' +
            'With cardId: that card only.',
          tags: ['books'],
          querystring: FloatQuery,
        },
        config: {
          responses: { 200: "{ asOf, byEventTime, byKnowledgeTime, difference, storesNotYetPast }, or with cardId that card's figures" },
        },
      },
      async (request) => {
        const { asOf, cardId } = request.query as z.output<typeof FloatQuery>;
        if (cardId) {
          const [card] = books.floatOfCards(asOf, { cardId, limit: 1 });
          return {
            asOf: new Date(asOf).toISOString(),
            cardId,
            byEventTime: card?.byEventTime ?? 0,
            byKnowledgeTime: card?.byKnowledgeTime ?? 0,
          };
        }
        const { byEventTime, byKnowledgeTime } = books.float(asOf);
        return {
          asOf: new Date(asOf).toISOString(),
          byEventTime,
          byKnowledgeTime,
          difference: byEventTime.total - byKnowledgeTime.total,
          storesNotYetPast: storesNotYetPast(asOf),
        };
      },
    );

    app.get(
      '/v1/float/cards',
      {
        schema: {
          summary: 'The float per card as of an instant, both figures; page with `after` = the last card id; CSV too',
          description: '`format=csv` or `Accept: text/csv` for CSV.',
          tags: ['books'],
          querystring: CardsQuery,
        },
        config: { responses: { 200: '{ asOf, cards, next }, or with CSV one line per card' } },
      },
      async (request, reply) => {
        const { asOf, after, limit, format } = request.query as z.output<typeof CardsQuery>;
        const cards = books.floatOfCards(asOf, { after, limit });
        if (wantsCsv(request, format)) {
          return sendCsv(
            reply,
            `float-${new Date(asOf).toISOString()}.csv`,
            ['card_id', 'by_event_time', 'by_knowledge_time'],
            cards.map((c) => [c.cardId, c.byEventTime, c.byKnowledgeTime]),
          );
        }
        return { asOf: new Date(asOf).toISOString(), cards, next: cards.length === limit ? (cards.at(-1)?.cardId ?? null) : null };
      },
    );

    app.get(
      '/v1/float/base-dates',
      {
        schema: {
          summary:
            'Payment Services Act base dates (31 March, 30 September): the unused balance, whether it exceeds ¥10,000,000 and the deposit it requires',
          description:
            'Each base date is taken at its end, Japan time. ' +
            'Above the threshold at least half the unused balance must be deposited. Both figures are given: by event time (what was on the cards) ' +
            'and by knowledge time (what head office knew then); `final` is false while some store has not reported past the date.',
          tags: ['books'],
          querystring: BaseDatesQuery,
        },
        config: { responses: { 200: '{ year, thresholdYen, baseDates }' } },
      },
      async (request) => {
        const { year } = request.query as z.output<typeof BaseDatesQuery>;
        const baseDates = depositBaseDates(year).map((date) => {
          const asOf = endOfLocalDay(date, utcOffsetMinutes);
          const figures = books.float(asOf);
          const notYetPast = storesNotYetPast(asOf);
          return {
            date,
            asOf: new Date(asOf).toISOString(),
            byEventTime: withDuty(figures.byEventTime),
            byKnowledgeTime: withDuty(figures.byKnowledgeTime),
            final: notYetPast.count === 0,
            storesNotYetPast: notYetPast,
          };
        });
        return { year, thresholdYen: DEPOSIT_THRESHOLD_YEN, baseDates };
      },
    );
  };
}
