// A store's node: its durable event log, its edge.db for every other piece of local state, and
// the replicator that carries the log to head office whenever NATS can be reached.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ConnectionOptions, NatsConnection } from '@nats-io/transport-node';
import { connectReconnecting, type LinkWatch } from '../infra/nats/index.js';
import { isValidStoreId, subjects } from '../contracts/index.js';
import type { SigningKey } from '../contracts/index.js';
import { EventLog } from './log/index.js';
import { Replicator, type ReplicatorOptions } from './replicator/index.js';
import type { KeyObject } from 'node:crypto';
import { PosServer, type CounterOptions } from './pos/index.js';
import { startStoreIssuance, type StoreIssuance } from './issuance/index.js';
import { startPurse, type PurseAtStore } from './purse/index.js';
import { acquireFileLock, childLogger, type Logger } from '../infra/index.js';
import type { EdgeMetrics } from './metrics.js';

export interface EdgeOptions {
  storeId: string;
  /** The store's own folder: the log in `log/`, local state in `edge.db`. */
  dataDir: string;
  natsUrl: string;
  /** Extra connection options, e.g. an authenticator for the store's credentials. */
  natsOptions?: Partial<ConnectionOptions>;
  /** What the log says when NATS cannot be reached at first: which flag or file would fix it. */
  explainNatsError?: (error: Error) => string;
  signingKey: SigningKey;
  logger?: Logger;
  replication?: Omit<ReplicatorOptions, 'log' | 'db' | 'signingKey' | 'logger'>;
  /** The store's counter; when given, the node answers POS commands (read, load, pay) on cardsys.pos.<storeId>. */
  counter?: CounterOptions;
  /** With `counter`: the keys of the issuance info, and the node handles `issue` (secondary issuance). */
  issuance?: { sealingKey: KeyObject; hqSealingPublicKey: KeyObject; lookupTimeoutMs?: number };
  /** Where the node counts what it does (served by `cardsys edge --metrics`). */
  metrics?: EdgeMetrics;
}

export interface EdgeNode {
  readonly storeId: string;
  readonly log: EventLog;
  /** edge.db (WAL); other features add their tables here. */
  readonly db: Database.Database;
  readonly replicator: Replicator;
  /** The NATS connection once made; the node keeps working offline until then. */
  readonly nats: Promise<NatsConnection | undefined>;
  /** The POS command handler, when the node has a counter. */
  readonly pos?: PosServer;
  readonly issuance?: StoreIssuance;
  readonly purse?: PurseAtStore;
  stop(): Promise<void>;
}

export function edgeLogDir(dataDir: string): string {
  return join(dataDir, 'log');
}

export function edgeDbFile(dataDir: string): string {
  return join(dataDir, 'edge.db');
}

export function openEdgeDb(dataDir: string, options: { readonly?: boolean } = {}): Database.Database {
  const db = new Database(edgeDbFile(dataDir), { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  return db;
}

export async function startEdge(options: EdgeOptions): Promise<EdgeNode> {
  if (!isValidStoreId(options.storeId))
    throw new Error(`invalid store id "${options.storeId}": use 1-32 letters, digits, "-" or "_" (not "hq")`);
  const logger = options.logger ?? console;
  const part = (component: string) => childLogger(logger, { component });
  mkdirSync(options.dataDir, { recursive: true });
  // Two edges on one folder would append to one log and answer the same terminals.
  const lock = acquireFileLock(join(options.dataDir, 'edge.lock'), `store ${options.storeId}'s data folder ${options.dataDir}`);
  let log: EventLog;
  let db: Database.Database;
  try {
    log = await EventLog.open({ dir: edgeLogDir(options.dataDir), storeId: options.storeId, logger: part('log') });
    db = openEdgeDb(options.dataDir);
  } catch (error) {
    lock.release();
    throw error;
  }
  const replicator = new Replicator({ ...options.replication, log, db, signingKey: options.signingKey, logger: part('replicator') });

  let stopped = false;
  let natsLink: LinkWatch | undefined;
  options.metrics?.follow({ unconfirmed: () => replicator.progress().unconfirmed, reconnects: () => natsLink?.reconnects ?? 0 });
  let wakeFromWait: () => void = () => {};
  const nats = (async (): Promise<NatsConnection | undefined> => {
    for (let attempt = 0; !stopped; attempt++) {
      try {
        const { nc, link } = await connectReconnecting(
          {
            ...options.natsOptions,
            servers: options.natsUrl,
            inboxPrefix: subjects.inbox(options.storeId),
            name: `cardsys-edge-${options.storeId}`,
          },
          `edge ${options.storeId}`,
          logger,
        );
        if (stopped) {
          await nc.close();
          return undefined;
        }
        replicator.start(nc);
        natsLink = link;
        return nc;
      } catch (error) {
        if (attempt === 0)
          logger.warn(
            `edge ${options.storeId}: ${options.explainNatsError?.(error as Error) ?? `cannot reach NATS at ${options.natsUrl} (${(error as Error).message})`}; working offline and retrying`,
          );
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(5000, 250 * 2 ** attempt));
          wakeFromWait = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    }
    return undefined;
  })();

  const metrics = options.metrics;
  const pos = options.counter
    ? new PosServer({
        storeId: options.storeId,
        db,
        logger: part('pos'),
        ...(metrics ? { onAnswered: metrics.answered.bind(metrics) } : {}),
      })
    : undefined;
  const issuance =
    pos && options.counter && options.issuance
      ? startStoreIssuance({ storeId: options.storeId, log, db, nats }, pos, {
          ...options.counter,
          ...options.issuance,
          signingKey: options.signingKey,
          logger: part('issuance'),
        })
      : undefined;
  const purse =
    pos && options.counter
      ? startPurse({ storeId: options.storeId, log, db, nats, replicated: (seq) => replicator.whenConfirmed(seq) }, pos, {
          ...options.counter,
          logger: part('purse'),
        })
      : undefined;
  void nats.then((nc) => nc && pos?.listen(nc));

  return {
    storeId: options.storeId,
    log,
    db,
    replicator,
    nats,
    pos,
    issuance,
    purse,
    async stop() {
      stopped = true;
      wakeFromWait();
      purse?.stop();
      await issuance?.stop();
      await pos?.stop();
      await replicator.stop();
      const nc = await nats;
      await nc?.close();
      await log.close();
      db.close();
      lock.release();
    },
  };
}
