// On-demand lookups: a store whose copy of the issuance info lacks a card's bank ID asks head
// office on cardsys.hq.lookup.<storeId>. The question is sealed to head office's key and signed by
// the store, the answer sealed to the asking store's key and signed by head office; the store is
// known from the subject, which only its account imports, its signature must verify with the key
// registered for it in `hq`, and the answer goes to that store only (serveRequests).
import type { KeyObject } from 'node:crypto';
import { headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type Database from 'better-sqlite3';
import {
  createOpener,
  LOOKUP_ERROR_HEADER,
  lookupReplySealContext,
  lookupRequestSealContext,
  pb,
  openSignedSealed,
  seal,
  sealingPublicKeyFromRaw,
  signedSealedKeyId,
  signSealed,
  subjects,
  type SigningKey,
} from '../../contracts/index.js';
import type { StoreKeys } from '../ingest/index.js';
import type { Logger } from '../../infra/index.js';
import { ISSUANCE_SNAPSHOT_SCHEMA, IssuanceSnapshotReader } from '../../projections/index.js';

import { serveRequests, storeAskingOn, type Answer, type RefusedRequests } from '../../infra/nats/index.js';

export interface LookupResponderOptions {
  nc: NatsConnection;
  readModels: Database.Database;
  /** Head office's X25519 private key, which lookups are sealed to. */
  sealingKey: KeyObject;
  /** Head office's Ed25519 key, which signs every answer. */
  signingKey: SigningKey;
  /** Stores' signing keys as registered in `hq`: a lookup must be signed by the store that asks. */
  storeKeys: StoreKeys;
  logger?: Logger;
  refused?: RefusedRequests;
}

/** Every head-office instance answers lookups from its own read models; the queue group gives each lookup to one. */
const LOOKUP_QUEUE = 'cardsys-hq-lookup';

export function startLookupResponder(options: LookupResponderOptions): {
  stop(): Promise<void>;
} {
  const logger = options.logger ?? console;
  options.readModels.exec(ISSUANCE_SNAPSHOT_SCHEMA);
  const reader = new IssuanceSnapshotReader(options.readModels);
  const opener = createOpener(options.sealingKey, lookupRequestSealContext);

  const refuse = (storeId: string, reason: string): Answer => {
    logger.warn(`issuance lookup from store ${storeId} refused: ${reason}`);
    const h = headers();
    h.set(LOOKUP_ERROR_HEADER, reason);
    return { data: new Uint8Array(0), headers: h };
  };

  const subscription: Subscription = serveRequests(options.nc, {
    service: 'issuance lookup',
    subject: subjects.lookup('*'),
    queue: LOOKUP_QUEUE,
    askerOf: storeAskingOn,
    answer: async (msg, { storeId }) => {
      let request: ReturnType<typeof pb.IssuanceLookupRequest.decode>;
      try {
        const keyId = signedSealedKeyId(msg.data);
        const publicKey = await options.storeKeys.publicKey(storeId, keyId);
        if (!publicKey) return refuse(storeId, `the lookup is signed with key ${keyId}, which is not registered for store ${storeId}`);
        request = pb.IssuanceLookupRequest.decode(
          openSignedSealed(opener, lookupRequestSealContext, msg.data, { name: `store ${storeId}`, publicKey }),
        );
      } catch (error) {
        return refuse(storeId, `unreadable lookup: ${(error as Error).message}`);
      }
      if (request.storeId !== storeId)
        return refuse(storeId, `lookup names store ${request.storeId} but came on store ${storeId}'s subject`);
      const store = reader.store(storeId);
      if (!store) return refuse(storeId, `store ${storeId} is not registered or has no sealing key`);
      const entry = reader.pendingEntry(request.bankId);
      const found = entry !== undefined && (entry.cards ?? []).some((card) => card.cardId === request.cardId);
      const reply = pb.IssuanceLookupReply.encode(found ? { found, entry } : { found: false }).finish();
      const context = lookupReplySealContext(storeId);
      return signSealed(options.signingKey, context, seal(sealingPublicKeyFromRaw(store.sealingKey), context, reply));
    },
    logger,
    ...(options.refused ? { refused: options.refused } : {}),
  });

  return {
    async stop() {
      if (!subscription.isClosed()) await subscription.drain();
    },
  };
}
