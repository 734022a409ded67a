// The purse at head office in one piece for the host process: the ledger projection for the
// runner, and a route plugin that runs the inquiry centre for as long as the API runs.
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RefusedRequests } from '../../infra/nats/responder.js';
import type { IssuerMasterKeys } from '../../card/index.js';
import { PurseLedgerReader } from '../../projections/purse-ledger.js';
import type { EventStore } from '../eventstore/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import type { Logger } from '../ingest/index.js';
import { InquiryCentre, type InquiryCentreOptions } from './inquiry-centre.js';
import { purseRoutes, purseViewOf } from './routes.js';
import type { CardView } from '../api/index.js';

export interface HeadOfficePurse {
  /** Blacklist and alert routes; registering them starts the inquiry centre, closing the API stops it. */
  routes(parts: {
    store: EventStore;
    /** The responders' connection answers stores; the writer's publishes blacklist changes. */
    nats: { responder: NatsConnection; writer: NatsConnection };
    refused?: RefusedRequests;
    hqWriter: HqWriter;
    logger: Logger;
    readModels: Database.Database;
    cardViews?: CardView[];
  }): FastifyPluginAsync;
}

export function headOfficePurse(
  options: { issuerKeys: IssuerMasterKeys } & Pick<InquiryCentreOptions, 'validForMs' | 'marginMs' | 'sweepEveryMs'>,
): HeadOfficePurse {
  return {
    routes(parts) {
      return async (app) => {
        const centre = await InquiryCentre.start({
          ...options,
          nc: parts.nats.responder,
          publisher: parts.nats.writer,
          ...(parts.refused ? { refused: parts.refused } : {}),
          store: parts.store,
          writer: parts.hqWriter,
          logger: parts.logger,
        });
        app.addHook('onClose', () => centre.stop());
        const ledger = new PurseLedgerReader(parts.readModels);
        await app.register(purseRoutes({ centre, ledger }));
        // GET /v1/cards/:cardId shows the balance head office last saw, blacklisting and alerts too.
        parts.cardViews?.push((cardId) => {
          const view = purseViewOf(centre, ledger, cardId);
          return view && { purse: view.purse, blacklisted: view.blacklisted, alerts: view.alerts };
        });
      };
    },
  };
}
