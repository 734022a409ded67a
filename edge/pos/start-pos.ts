import type Database from 'better-sqlite3';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../log/index.js';
import { PosServer } from './pos-server.js';

/**
 * The store's POS handler, answering on cardsys.pos.<storeId> once the node reaches NATS. Features
 * register their commands on it (startPurse, startStoreIssuance).
 */
export function startPosServer(edge: { storeId: string; db: Database.Database; nats: Promise<NatsConnection | undefined> }, logger?: Logger): PosServer {
  const pos = new PosServer({ storeId: edge.storeId, db: edge.db, ...(logger ? { logger } : {}) });
  void edge.nats.then((nc) => nc && pos.listen(nc));
  return pos;
}
