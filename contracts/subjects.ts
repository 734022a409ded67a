// NATS subjects. Each store's credentials are scoped to the subjects that carry its own id.

/** JetStream stream that holds every store's replicated event batches. */
export const EVENTS_STREAM = 'CARDSYS_EVENTS';
export const HQ_ORIGIN = 'hq';
/** Head office's durable consumer of EVENTS_STREAM. */
export const INGEST_CONSUMER = 'cardsys-ingest';

export const subjects = {
  /** Edge → JetStream: EventBatch messages of one store. */
  events: (storeId: string) => `cardsys.events.${storeId}`,
  eventsAll: 'cardsys.events.>',
  /** Host → edge: StoreAck after each committed batch. */
  ack: (storeId: string) => `cardsys.ack.${storeId}`,
  /** Edge → host request: where does head office stand on my events? Reply: StoreAck. */
  sync: (storeId: string) => `cardsys.hq.sync.${storeId}`,
  /** POS terminal → edge request: PosCommand. Reply: PosReply. */
  pos: (storeId: string) => `cardsys.pos.${storeId}`,
  /** Edge → head office's inquiry centre: InquiryRequest (load authorisations). Reply: InquiryReply. */
  inquiry: (storeId: string) => `cardsys.hq.auth.${storeId}`,
  inquiryAll: 'cardsys.hq.auth.*',
  /** Edge → host request: BlacklistSyncRequest. Reply: BlacklistSyncReply. */
  blacklistSync: (storeId: string) => `cardsys.hq.blacklist.${storeId}`,
  blacklistSyncAll: 'cardsys.hq.blacklist.*',
  /** Host → every store: BlacklistChange as it happens. */
  blacklistChanges: 'cardsys.blacklist.changes',
  /** Every request a store makes of head office (sync, lookup, auth, blacklist): `cardsys.hq.<kind>.<storeId>`. */
  hqRequests: (storeId: string) => `cardsys.hq.*.${storeId}`,
  hqRequestsAll: 'cardsys.hq.*.*',
  /** Per-store request inbox prefix, so one store cannot read another's replies. */
  inbox: (storeId: string) => `_INBOX_${storeId}`,
} as const;

const STORE_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** Store ids become NATS subject tokens and file names: keep them to a safe alphabet. */
export function isValidStoreId(id: string): boolean {
  return STORE_ID.test(id) && id !== HQ_ORIGIN;
}
