// Where the edge finds issuance info for a card: its encrypted copy of head office's snapshot,
// kept up to date from the store's snapshot messages, then head office itself on a miss (the answer
// joins the copy). Head office unreachable or without the user → not found, with the reason.
import type { KeyObject } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { pb, subjects } from '../../contracts/index.js';
import { createOpener, openSignedSealed, seal, signSealed, type KnownSender, type SigningKey } from '../../contracts/index.js';
import { readSnapshotMessages, storeSnapshotApi } from '../../infra/nats/index.js';
import { LOOKUP_ERROR_HEADER, lookupReplySealContext, lookupRequestSealContext, snapshotSealContext } from '../../contracts/index.js';
import { IssuanceCache, type IssuanceEntry } from './issuance-cache.js';

import type { Logger } from '../../infra/index.js';

export interface IssuanceInfoOptions {
  storeId: string;
  /** edge.db */
  db: Database.Database;
  /** The store's X25519 private key: snapshots and lookup answers are sealed to it. */
  sealingKey: KeyObject;
  /** Head office's X25519 public key: lookups are sealed to it. */
  hqSealingPublicKey: KeyObject;
  /** Head office's Ed25519 public key: snapshots and lookup answers must be signed with it. */
  hqSigningPublicKey: KeyObject;
  /** The store's Ed25519 key: it signs the store's lookups. */
  signingKey: SigningKey;
  logger?: Logger;
  /** How long a lookup waits for head office. */
  lookupTimeoutMs?: number;
  /** Re-reads the snapshot messages this often even without a notification. */
  resyncMs?: number;
}

export type FoundIn = 'snapshot' | 'head_office';

export type IssuanceLookup =
  | { found: true; entry: IssuanceEntry; source: FoundIn }
  | { found: false; reason: 'not_at_head_office' | 'head_office_unreachable'; detail: string };

export class IssuanceInfo {
  readonly cache: IssuanceCache;
  private nc: NatsConnection | undefined;
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<number> | undefined;
  private readonly logger: Logger;
  private readonly replyOpener;
  private readonly headOffice: KnownSender;

  constructor(private readonly options: IssuanceInfoOptions) {
    this.logger = options.logger ?? console;
    this.headOffice = { name: 'head office', publicKey: options.hqSigningPublicKey };
    this.cache = new IssuanceCache(options.db, options.storeId, options.sealingKey, snapshotSealContext(options.storeId), this.headOffice);
    this.replyOpener = createOpener(options.sealingKey, lookupReplySealContext(options.storeId));
  }

  /** Starts following the store's snapshot messages on this connection. */
  attach(nc: NatsConnection): void {
    this.nc = nc;
    this.subscription = nc.subscribe(subjects.snapshot(this.options.storeId), { callback: () => void this.sync() });
    this.timer = setInterval(() => void this.sync(), this.options.resyncMs ?? 30_000);
    void this.sync();
  }

  /**
   * Applies every snapshot message after the cursor; resolves with how many were applied. Calls
   * made while a sync runs share it and then run once more, so nothing announced is left unread.
   */
  sync(): Promise<number> {
    const run = (this.syncing ?? Promise.resolve(0)).catch(() => 0).then(() => this.syncOnce());
    this.syncing = run;
    return run;
  }

  private async syncOnce(): Promise<number> {
    const nc = this.nc;
    if (!nc || nc.isClosed()) return 0;
    const jsm = await storeSnapshotApi(nc, this.options.storeId);
    let applied = 0;
    try {
      for await (const message of readSnapshotMessages(jsm, this.options.storeId, this.cache.state().message)) {
        const outcome = this.cache.apply(message.seq, message.data);
        if (outcome.kind === 'skipped')
          this.logger.warn(`issuance snapshot of store ${this.options.storeId}: message ${message.seq} skipped: ${outcome.reason}`);
        else applied++;
        if (outcome.kind === 'replaced')
          this.logger.info(
            `issuance snapshot of store ${this.options.storeId}: generation ${outcome.generation} in place, ${outcome.entries} users`,
          );
      }
    } catch (error) {
      if (!/stream not found/i.test((error as Error).message)) {
        this.logger.warn(
          `issuance snapshot of store ${this.options.storeId}: cannot read (${(error as Error).message}); using the copy held`,
        );
      }
    }
    return applied;
  }

  /** Finds the issuance entry for a card: the store's copy first, then head office. */
  async find(bankId: string, cardId: string): Promise<IssuanceLookup> {
    return this.fromCopy(bankId, cardId) ?? this.askHeadOffice(bankId, cardId);
  }

  /**
   * Whether the card still waits for issuance: head office first (its view follows every store's
   * CardIssued, the copy lags behind it), the copy when head office cannot be asked.
   */
  async findWaiting(bankId: string, cardId: string): Promise<IssuanceLookup> {
    const asked = await this.askHeadOffice(bankId, cardId);
    if (asked.found || asked.reason === 'not_at_head_office') return asked;
    return this.fromCopy(bankId, cardId) ?? asked;
  }

  private fromCopy(bankId: string, cardId: string): IssuanceLookup | undefined {
    const local = this.cache.find(bankId);
    return local && (local.cards ?? []).some((card) => card.cardId === cardId)
      ? { found: true, entry: local, source: 'snapshot' }
      : undefined;
  }

  private async askHeadOffice(bankId: string, cardId: string): Promise<IssuanceLookup> {
    const nc = this.nc;
    const unreachable = (detail: string): IssuanceLookup => ({ found: false, reason: 'head_office_unreachable', detail });
    if (!nc || nc.isClosed()) return unreachable('no connection to head office');
    const question = pb.IssuanceLookupRequest.encode({ storeId: this.options.storeId, bankId, cardId }).finish();
    let reply;
    try {
      reply = await nc.request(
        subjects.lookup(this.options.storeId),
        signSealed(
          this.options.signingKey,
          lookupRequestSealContext,
          seal(this.options.hqSealingPublicKey, lookupRequestSealContext, question),
        ),
        {
          timeout: this.options.lookupTimeoutMs ?? 3000,
        },
      );
    } catch (error) {
      return unreachable(`head office did not answer the lookup: ${(error as Error).message}`);
    }
    const refusal = reply.headers?.get(LOOKUP_ERROR_HEADER);
    if (refusal) return unreachable(`head office refused the lookup: ${refusal}`);
    let answer;
    try {
      const opened = openSignedSealed(this.replyOpener, lookupReplySealContext(this.options.storeId), reply.data, this.headOffice);
      answer = pb.IssuanceLookupReply.decode(opened);
    } catch (error) {
      return unreachable(`head office's answer cannot be read: ${(error as Error).message}`);
    }
    if (!answer.found || !answer.entry)
      return { found: false, reason: 'not_at_head_office', detail: 'head office has no issuance data for this card' };
    this.cache.add(answer.entry);
    return { found: true, entry: answer.entry, source: 'head_office' };
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.subscription?.unsubscribe();
    await this.syncing?.catch(() => undefined);
  }
}
