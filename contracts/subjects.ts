// Every NATS subject and JetStream stream name cardsys uses, in one place. Each store's
// credentials are scoped to the subjects that carry its own id.

/** JetStream stream that holds every store's replicated event batches. */
export const EVENTS_STREAM = 'CARDSYS_EVENTS';
/**
 * JetStream stream of every store's sealed issuance snapshot, one subject per message of each store
 * (`subjects.snapshotMessage`), at most one message per subject. A store reads its messages by
 * direct get of the last message on a subject, whose API subject carries the subject and so the
 * store id as a token, which nats-server checks against the importing account. The snapshot account
 * holds this stream and nothing else.
 */
export const SNAPSHOTS_STREAM = 'CARDSYS_SNAPSHOTS';
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
  /**
   * POS terminal → edge request: PosCommand. Reply: PosReply. Each terminal publishes only on its
   * own subject, so the edge knows the terminal from the subject, never from the command.
   */
  pos: (storeId: string, terminalId: string) => `cardsys.pos.${storeId}.${terminalId}`,
  /** Every terminal's subject of one store: what its edge listens on. */
  posAll: (storeId: string) => `cardsys.pos.${storeId}.*`,
  /** Edge → head office's inquiry centre: InquiryRequest (load authorisations). Reply: InquiryReply. */
  inquiry: (storeId: string) => `cardsys.hq.auth.${storeId}`,
  inquiryAll: 'cardsys.hq.auth.*',
  /** Edge → host request: BlacklistSyncRequest. Reply: BlacklistSyncReply. */
  blacklistSync: (storeId: string) => `cardsys.hq.blacklist.${storeId}`,
  blacklistSyncAll: 'cardsys.hq.blacklist.*',
  /** Host → every store: BlacklistChange as it happens. */
  blacklistChanges: 'cardsys.blacklist.changes',
  /** Edge → host request: a sealed on-demand issuance lookup. Reply: the sealed entry, or an error header. */
  lookup: (storeId: string) => `cardsys.hq.lookup.${storeId}`,
  /**
   * Host → JetStream: message `n` (1, 2, …) of the store's issuance snapshot feed (full generations
   * in parts, then changes), sealed to its key.
   */
  snapshotMessage: (storeId: string, n: number) => `cardsys.snapshot.${storeId}.${n}`,
  /** Host → JetStream: where the store's newest full generation starts (head office purges what lies before). */
  snapshotGeneration: (storeId: string) => `cardsys.snapshot.${storeId}.generation`,
  /** Every snapshot subject of one store: what it hears "something new" on. */
  snapshot: (storeId: string) => `cardsys.snapshot.${storeId}.*`,
  snapshotAll: 'cardsys.snapshot.*.*',
  /**
   * The JetStream API prefix a store reads its snapshot messages under: its account imports head
   * office's `snapshotDirectGet('$JS.API', id)` as `snapshotDirectGet(<prefix>, id)`. Off `$JS.API`, a store's
   * broker's leaf link carries the reads without the hub mapping the store's account to its JetStream
   * domain, a setting nats-server cannot change on reload (so a store provisioned later would wait
   * for the hub's restart).
   */
  snapshotApi: (storeId: string) => `cardsys.js.${storeId}`,
  /**
   * Direct gets of the last message on each of the store's snapshot subjects, under a JetStream API
   * prefix. No body: the subject asked for is in the API subject, so permissions and imports can
   * name it (a direct get with a body may ask for any subject or sequence, and is never imported).
   */
  snapshotDirectGet: (apiPrefix: string, storeId: string) => `${apiPrefix}.DIRECT.GET.${SNAPSHOTS_STREAM}.${subjects.snapshot(storeId)}`,
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

/** Terminal ids are subject tokens and file names too, in the same alphabet. */
export function isValidTerminalId(id: string): boolean {
  return STORE_ID.test(id);
}

/** The terminal a POS subject (`subjects.pos`) names, or undefined when it names none. */
export function terminalOfPosSubject(storeId: string, subject: string): string | undefined {
  const prefix = subjects.pos(storeId, '');
  const terminalId = subject.startsWith(prefix) ? subject.slice(prefix.length) : '';
  return isValidTerminalId(terminalId) ? terminalId : undefined;
}
