// GET /v1/stores/:storeId/settlements: a store's settlement statements (what head office owes it per
// business day) and what has come in since the last one, as JSON or CSV.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { StoreId } from '../../contracts/index.js';
import type { BooksReader } from '../../projections/index.js';
import { NotFoundError, useZodValidation } from '../api/index.js';
import { ReportFormat, sendCsv, wantsCsv } from './csv.js';

const Day = (what: string) =>
  z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/, `${what} must be a date, YYYY-MM-DD`)
    .optional();
const StoreParams = z.object({ storeId: StoreId });
const SettlementQuery = z.object({ from: Day('from'), to: Day('to'), format: ReportFormat });

const CSV_HEADER = [
  'store_id',
  'business_day',
  'opens_at',
  'closes_at',
  'closed_at',
  'pays_count',
  'pays_total',
  'refunds_count',
  'refunds_total',
  'late_count',
  'late_total',
  'owed',
  'notes',
] as const;

export function settlementRoutes(books: BooksReader): FastifyPluginAsync {
  return async (app) => {
    useZodValidation(app);
    app.get(
      '/v1/stores/:storeId/settlements',
      {
        schema: {
          summary: "A store's settlement statements: per closed business day, its pays and refunds and what head office owes the store",
          description:
            "A day closes once the store's replicated log has passed its cut-off; " +
            'a movement for a closed day that arrives later is booked on the next statement with a note, and a closed statement never changes. ' +
            '`open` shows what has come in since the last statement. `from`/`to` (YYYY-MM-DD) pick business days; `format=csv` or `Accept: text/csv` gives one CSV line per statement.',
          tags: ['books'],
          params: StoreParams,
          querystring: SettlementQuery,
        },
        config: {
          responses: {
            200: '{ storeId, statements, owedTotal, open }, or with CSV one line per statement',
            404: 'not_found: no such store',
          },
        },
      },
      async (request, reply) => {
        const { storeId } = request.params as z.output<typeof StoreParams>;
        const query = request.query as z.output<typeof SettlementQuery>;
        if (!books.knowsStore(storeId)) throw new NotFoundError(`no store ${storeId}`);
        const statements = books.statements(storeId, query);
        if (wantsCsv(request, query.format)) {
          return sendCsv(
            reply,
            `settlements-${storeId}.csv`,
            CSV_HEADER,
            statements.map((s) => [
              s.storeId,
              s.businessDay,
              s.opensAt,
              s.closesAt,
              s.closedAt,
              s.pays.count,
              s.pays.total,
              s.refunds.count,
              s.refunds.total,
              s.late.length,
              s.late.reduce((sum, entry) => sum + (entry.kind === 'refund' ? -entry.amount : entry.amount), 0),
              s.owed,
              s.notes.join('; '),
            ]),
          );
        }
        return { storeId, statements, owedTotal: statements.reduce((sum, s) => sum + s.owed, 0), open: books.openDay(storeId) };
      },
    );
  };
}
