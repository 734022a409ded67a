// The evidence of the API's writes and personal-data reads: recorded as ApiAccessRecorded in head
// office's own chain through its writer, listed by GET /v1/access-log from the access-log read model.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { AfterPosition, PageLimit } from '../../contracts/index.js';
import type { EventStore } from '../../eventstore/index.js';
import { AccessLogReader, type ProjectionRunner } from '../../projections/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import type { AccessRecorder } from './access-control.js';
import { useZodValidation } from './http-errors.js';

/** The aggregate head office's access records belong to. */
const ACCESS_LOG_STREAM = 'api-access';

/** Records each entry in `hq`, signed and chained like every other head-office event. */
export function hqAccessRecorder(writer: HqWriter | (() => HqWriter)): AccessRecorder {
  // A getter when this instance may lose the writer (a follower has none: recording throws, the request gets 503).
  const current = typeof writer === 'function' ? writer : () => writer;
  return async (entry) => {
    await current().append([
      {
        streamId: ACCESS_LOG_STREAM,
        event: {
          type: 'ApiAccessRecorded',
          data: {
            subject: entry.caller.subject,
            issuer: entry.caller.issuer,
            role: entry.role,
            access: entry.access,
            method: entry.method,
            route: entry.route,
            ids: entry.ids,
            remoteAddress: entry.remoteAddress,
            requestId: entry.requestId,
            tokenId: entry.caller.tokenId ?? '',
          },
        },
      },
    ]);
  };
}

const Instant = (what: string) =>
  z.iso
    .datetime({
      offset: true,
      error: `${what} must be an ISO 8601 time such as 2025-04-01T00:00:00Z`,
    })
    .transform((text) => Date.parse(text))
    .optional();

const AccessLogQuery = z.object({
  from: Instant('from'),
  to: Instant('to'),
  subject: z.string().min(1, 'subject must not be empty').max(200, 'subject must be at most 200 characters').optional(),
  after: AfterPosition,
  limit: PageLimit(1000, 100),
});

/** How long the access log waits for its read model to reach what the event store holds now. */
const CATCH_UP_MS = 2000;

export function accessLogRoutes(options: { store: EventStore; runner: ProjectionRunner }): FastifyPluginAsync {
  const reader = new AccessLogReader(options.runner.db);
  return async (app) => {
    useZodValidation(app);
    app.get(
      '/v1/access-log',
      {
        schema: {
          summary: "Who wrote, and who saw personal data, through this API: head office's ApiAccessRecorded events, oldest first",
          description: "Query: from?, to? (ISO 8601, to exclusive), subject?, after? (the previous page's `next`), limit? (1-1000).",
          tags: ['access'],
          querystring: AccessLogQuery,
        },
        config: {
          responses: {
            200: '{ entries: [{ position, at, subject, issuer, role, access, method, route, ids, remoteAddress, requestId, tokenId }], next }',
          },
        },
      },
      async (request) => {
        const query = request.query as z.output<typeof AccessLogQuery>;
        // Entries are recorded before their request is served; let the read model catch up with them.
        const head = await options.store.headPosition();
        if (head !== undefined) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            options.runner.waitForPosition(head),
            new Promise((resolve) => (timer = setTimeout(resolve, CATCH_UP_MS))),
          ]).finally(() => clearTimeout(timer));
        }
        const entries = reader.entries({
          fromMs: query.from,
          toMs: query.to,
          subject: query.subject,
          after: query.after,
          limit: query.limit,
        });
        return {
          entries,
          next: entries.length === query.limit ? entries.at(-1)!.position : null,
        };
      },
    );
  };
}
