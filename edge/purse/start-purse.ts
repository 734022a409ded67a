// Starts the purse at a store: load, pay, refund and read on the POS handler, the blacklist copy following
// head office, and the line to head office, working offline until NATS is reached.
import type { NatsConnection } from '@nats-io/transport-node';
import type Database from 'better-sqlite3';
import type { EventLog } from '../log/index.js';
import type { PosServer } from '../pos/index.js';
import { BlacklistCache } from './blacklist-cache.js';
import { HeadOfficeLink } from './head-office-link.js';
import { PurseService } from './purse-service.js';
import type { PurseServiceOptions } from './purse-counter.js';
import type { Logger } from '../../infra/index.js';

export interface PurseAtStore {
  readonly service: PurseService;
  readonly blacklist: BlacklistCache;
  readonly link: HeadOfficeLink;
  stop(): void;
}

export type StartPurseOptions = Omit<PurseServiceOptions, 'storeId' | 'log' | 'db' | 'link' | 'blacklist' | 'replicated'> & {
  inquiryTimeoutMs?: number;
};

/**
 * Registers load, pay, refund and read with the store's POS handler, keeps the blacklist copy following head
 * office once NATS is reached, and works offline until then.
 */
export function startPurse(
  edge: {
    storeId: string;
    log: EventLog;
    db: Database.Database;
    nats: Promise<NatsConnection | undefined>;
    /** Resolves once head office holds the store's log up to a sequence. */
    replicated: (seq: number) => Promise<void>;
  },
  pos: PosServer,
  options: StartPurseOptions,
): PurseAtStore {
  const logger: Logger = options.logger ?? console;
  const link = new HeadOfficeLink(edge.storeId, options.inquiryTimeoutMs);
  const blacklist = new BlacklistCache(edge.db, edge.storeId, { name: 'head office', publicKey: options.hqSigningPublicKey }, logger);
  const service = new PurseService({
    ...options,
    storeId: edge.storeId,
    log: edge.log,
    db: edge.db,
    link,
    blacklist,
    replicated: edge.replicated,
  });
  service.register(pos);
  void edge.nats.then((nc) => {
    if (!nc) return;
    link.onUp(() => blacklist.follow(nc));
    link.attach(nc);
  });
  return { service, blacklist, link, stop: () => blacklist.stop() };
}
