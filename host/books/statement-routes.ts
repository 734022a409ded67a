// GET /v1/cards/:cardId/statement: a card's movements as head office holds them (date, store,
// amount, balance after, and the card MAC that proves each), as JSON or CSV; the entries the chip
// still holds in its usage log read the same there.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { CardId } from '../../contracts/index.js';
import type { BooksReader } from '../../projections/index.js';
import { NotFoundError, useZodValidation } from '../api/index.js';
import { ReportFormat, sendCsv, wantsCsv } from './csv.js';

const CardParams = z.object({ cardId: CardId });
const StatementQuery = z.object({ format: ReportFormat });

const CSV_HEADER = [
  'card_counter',
  'occurred_at',
  'kind',
  'amount',
  'balance_after',
  'store_id',
  'terminal_id',
  'chip_terminal_id',
  'card_mac',
  'event_id',
] as const;

export function statementRoutes(books: BooksReader): FastifyPluginAsync {
  return async (app) => {
    useZodValidation(app);
    app.get(
      '/v1/cards/:cardId/statement',
      {
        schema: {
          summary: "A card's statement: every movement by card counter, with its date, store, amount, balance after and the card's MAC",
          description:
            'Only movements whose card MAC verifies are listed, each once. ' +
            '`missingCounters` names counters head office has no movement for yet (a store that has not reported). `format=csv` or `Accept: text/csv` for CSV.',
          tags: ['books'],
          params: CardParams,
          querystring: StatementQuery,
        },
        config: {
          responses: {
            200: '{ cardId, balance, counter, missingCounters, entries }, or with CSV one line per movement',
            404: 'not_found: head office holds no purse movement of the card',
          },
        },
      },
      async (request, reply) => {
        const { cardId } = request.params as z.output<typeof CardParams>;
        const { format } = request.query as z.output<typeof StatementQuery>;
        const entries = books.cardStatement(cardId);
        if (entries.length === 0) throw new NotFoundError(`head office holds no purse movement of card ${cardId}`);
        if (wantsCsv(request, format)) {
          return sendCsv(
            reply,
            `statement-${cardId}.csv`,
            CSV_HEADER,
            entries.map((e) => [
              e.cardCounter,
              e.occurredAt,
              e.kind,
              e.amount,
              e.balanceAfter,
              e.storeId,
              e.terminalId,
              e.chipTerminalId,
              e.cardMac,
              e.eventId,
            ]),
          );
        }
        const held = new Set(entries.map((entry) => entry.cardCounter));
        const last = entries.at(-1)!;
        const missingCounters = Array.from({ length: last.cardCounter }, (_, i) => i + 1).filter((counter) => !held.has(counter));
        return { cardId, balance: last.balanceAfter, counter: last.cardCounter, missingCounters, entries };
      },
    );
  };
}
