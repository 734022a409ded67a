// Issuance at a store's node, composed: the encrypted issuance copy (following head office's
// snapshot messages once NATS is reached) and the `issue` command on the POS handler.
import type { KeyObject } from 'node:crypto';
import type { SigningKey } from '../../contracts/index.js';
import type Database from 'better-sqlite3';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventLog } from '../log/index.js';
import type { CounterOptions, PosServer } from '../pos/index.js';
import { IssuanceInfo } from './issuance-info.js';
import { SecondaryIssuance } from './secondary-issuance.js';
import type { Logger } from '../../infra/index.js';

/** The parts of a store's node issuance uses (an EdgeNode has them). */
export interface IssuanceEdge {
  storeId: string;
  log: EventLog;
  db: Database.Database;
  /** The node's NATS connection once made. */
  nats: Promise<NatsConnection | undefined>;
}

export interface StoreIssuanceOptions extends CounterOptions {
  /** The store's X25519 private key (bundle: sealing-key.pem). */
  sealingKey: KeyObject;
  /** Head office's X25519 public key (bundle: hq-sealing-key.pub.pem). */
  hqSealingPublicKey: KeyObject;
  /** The store's Ed25519 key (bundle: signing-key.pem): it signs the store's lookups. */
  signingKey: SigningKey;
  logger?: Logger;
  lookupTimeoutMs?: number;
}

export interface StoreIssuance {
  readonly info: IssuanceInfo;
  readonly service: SecondaryIssuance;
  stop(): Promise<void>;
}

/** Starts issuance at a store: registers the `issue` command and follows the snapshot messages. */
export function startStoreIssuance(edge: IssuanceEdge, pos: PosServer, options: StoreIssuanceOptions): StoreIssuance {
  const info = new IssuanceInfo({
    storeId: edge.storeId,
    db: edge.db,
    sealingKey: options.sealingKey,
    hqSealingPublicKey: options.hqSealingPublicKey,
    hqSigningPublicKey: options.hqSigningPublicKey,
    signingKey: options.signingKey,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.lookupTimeoutMs ? { lookupTimeoutMs: options.lookupTimeoutMs } : {}),
  });
  const service = new SecondaryIssuance({ ...options, storeId: edge.storeId, log: edge.log, db: edge.db, info });
  service.register(pos);
  let stopped = false;
  void edge.nats.then((nc) => {
    if (nc && !stopped) info.attach(nc);
  });
  return {
    info,
    service,
    async stop() {
      stopped = true;
      await info.stop();
    },
  };
}
