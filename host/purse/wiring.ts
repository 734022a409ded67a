// Composition root of the purse at head office for the host process: the inquiry centre (the
// writer's, or a follower's that only reads) and the route plugin that serves whichever runs now.

import type { NatsConnection } from '@nats-io/transport-node';
import type { RefusedRequests } from '../../infra/nats/index.js';
import type Database from 'better-sqlite3';
import type { FastifyPluginAsync } from 'fastify';
import type { IssuerMasterKeys } from '../../card/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { Logger } from '../../infra/index.js';
import { PurseLedgerReader } from '../../projections/index.js';
import type { CardView } from '../api/index.js';
import type { HqWriter } from '../hq-writer/index.js';
import { InquiryCentre, type InquiryCentreOptions } from './inquiry-centre.js';
import { replacementRoutes, type ReplacementRoutesOptions } from './replacement-routes.js';
import { purseRoutes, purseViewOf } from './routes.js';

export interface HeadOfficePurse {
  /** The inquiry centre: with head office's writer it answers stores and decides; without one it only follows. */
  startCentre(parts: {
    store: EventStore;
    /** The responders' connection answers stores; the writer's publishes blacklist changes. */
    nats: { responder: NatsConnection; writer: NatsConnection };
    refused?: RefusedRequests;
    hqWriter?: HqWriter;
    onBlacklistSync?: (storeId: string, version: number) => void;
    logger: Logger;
  }): Promise<InquiryCentre>;
  /** Blacklist, lost card, account and alert routes on the centre this instance runs now; the card view gains the purse. */
  routes(parts: {
    centre: () => InquiryCentre;
    readModels: Database.Database;
    cardViews?: CardView[];
    /** Primary issuance in head office's station, for a lost card's replacement. */
    issueCard: ReplacementRoutesOptions['issueCard'];
  }): FastifyPluginAsync;
}

export function headOfficePurse(
  options: { issuerKeys: IssuerMasterKeys } & Pick<
    InquiryCentreOptions,
    'validForMs' | 'marginMs' | 'sweepEveryMs' | 'loadLimits' | 'refundRules'
  >,
): HeadOfficePurse {
  return {
    startCentre(parts) {
      return InquiryCentre.start({
        ...options,
        nc: parts.nats.responder,
        publisher: parts.nats.writer,
        ...(parts.refused ? { refused: parts.refused } : {}),
        store: parts.store,
        ...(parts.hqWriter ? { writer: parts.hqWriter } : {}),
        ...(parts.onBlacklistSync ? { onBlacklistSync: parts.onBlacklistSync } : {}),
        logger: parts.logger,
      });
    },
    routes(parts) {
      return async (app) => {
        const ledger = new PurseLedgerReader(parts.readModels);
        await app.register(purseRoutes({ centre: parts.centre, ledger }));
        await app.register(replacementRoutes({ centre: parts.centre, issueCard: parts.issueCard }));
        // GET /v1/cards/:cardId shows the balance head office last saw, blacklisting and alerts too.
        parts.cardViews?.push((cardId) => {
          const view = purseViewOf(parts.centre(), ledger, cardId);
          return (
            view && {
              purse: view.purse,
              blacklisted: view.blacklisted,
              blacklistReason: view.blacklistReason,
              blacklistedSince: view.blacklistedSince,
              alerts: view.alerts,
            }
          );
        });
        // A lost card, or its replacement, shows where the lost card's balance stands.
        parts.cardViews?.push((cardId) => {
          const replacement = parts.centre().replacement(cardId);
          return (
            replacement && {
              replacement: {
                lostCardId: replacement.cardId,
                newCardId: replacement.newCardId,
                status: replacement.status,
                moved: replacement.moved,
              },
            }
          );
        });
      };
    },
  };
}
