// What each role of a head-office instance runs.
//
// The leader (one at a time): head office's writer of the `hq` stream, and every part that writes
// or must not run twice: the inquiry centre (its decisions append to `hq`; the blacklist feed is
// published after them), the issuance office (applications, primary issuance), the ingest of
// stores' batches (two consumers of the one durable consumer would split a store's batches between
// them and make each other's appends fail on expected revision), the snapshot publisher (each
// instance numbers its read-model changes in its own feed: two would keep replacing each other's
// snapshots), the books' checks (store day closing and overdue loads append StoreDayClosed and
// LoadOverdue to `hq`), and the registration of provisioned stores.
//
// Both roles: the API's reads and the read models (each instance its own file, fed from the shared
// event store; the books' reports read them), and the issuance lookup responder (it only reads; a queue group gives each lookup
// to one instance). A follower also runs an inquiry centre that only follows the event store, for
// the blacklist and purse views of its API.
//
// A new leader appends HeadOfficeWriterStarted to `hq` before anything else, and only then reads
// head office's state from the event store: a former leader that still believes it leads has its
// next append to `hq` refused by expected revision (and steps down), and nothing it appended
// before is missed.
import type { NatsConnection } from '@nats-io/transport-node';
import type { HeadOfficePart, RefusedRequests } from '../../infra/nats/index.js';
import { HQ_ORIGIN, rawPublicKey, type SigningKey } from '../../contracts/index.js';
import { type EventStore, WrongExpectedRevisionError } from '../../eventstore/index.js';
import { childLogger, type Logger } from '../../infra/index.js';
import type { IssuanceOffice } from '../applications/index.js';
import type { HeadOfficeBooks } from '../books/index.js';
import { HqWriter, recordRefusals, storeKeyDirectory } from '../hq-writer/index.js';
import { type BatchRefusal, startIngest } from '../ingest/index.js';
import type { HeadOfficeIssuance } from '../issuance/index.js';
import { storeRegistrationEvents, watchProvisionedStores, type StoreRecord } from '../provisioning/index.js';
import type { HeadOfficePurse, InquiryCentre } from '../purse/index.js';
import type { LeaseHolder } from './lease.js';
import type { StoreContacts } from '../console/index.js';
import type { HeadOfficeMetrics } from '../metrics/index.js';

export interface WriterRole {
  hqWriter: HqWriter;
  office: IssuanceOffice;
  centre: InquiryCentre;
  stop(): Promise<void>;
}

export interface FollowerRole {
  /** Follows the event store only: balances and the blacklist for the API's views. */
  centre: InquiryCentre;
  stop(): Promise<void>;
}

export interface HeadOfficeRoleDeps {
  store: EventStore;
  /** One connection per part of head office, each its own NATS principal. */
  nats: Record<HeadOfficePart, NatsConnection>;
  /** Where every responder counts the requests it refused (a reply subject not the asker's). */
  refused: RefusedRequests;
  signingKey: SigningKey;
  /** Head office's folder: the provisioned stores it registers. */
  dataDir: string;
  purse: HeadOfficePurse;
  issuance: HeadOfficeIssuance;
  books: HeadOfficeBooks;
  /** What head office hears of each store, for the console (the leader answers the stores). */
  contacts?: StoreContacts;
  /** Where the ingest counts what it stored and refused. */
  metrics?: HeadOfficeMetrics;
  /** Whether other instances share the event store (each writer term then opens with HeadOfficeWriterStarted). */
  shared: boolean;
  logger: Logger;
}

const HQ_WRITER_STREAM = 'hq-writer';
/** The aggregate of head office's own key registrations. */
const HQ_KEYS_STREAM = 'hq-keys';
/** A former writer may slip in appends until it sees its lease gone: the term's first append tries again this often. */
const TERM_START_ATTEMPTS = 5;

export function headOfficeRoles(deps: HeadOfficeRoleDeps) {
  const { store, nats, refused, logger } = deps;
  return {
    async lead(holder: LeaseHolder, fenced: (reason: string) => void): Promise<WriterRole> {
      const stops: Array<() => Promise<unknown>> = [];
      const stop = async () => {
        for (const part of stops.splice(0).reverse())
          await part().catch((error: Error) => logger.warn(`while stopping the writer's parts: ${error.message}`));
      };
      try {
        if (deps.shared) await startTerm(store, deps.signingKey, holder);
        const hqWriter = await HqWriter.open({
          store,
          signingKey: deps.signingKey,
          fenced: (error) => {
            logger.error(`hq writer: another head-office instance wrote to hq first (${error.message}); this instance no longer writes`);
            fenced(`another instance appended to hq (${error.message})`);
          },
        });
        await registerHeadOfficeKey(store, hqWriter, logger);
        // Stores provisioned before, and those provisioned while this instance leads, without a restart.
        const provisioned = await watchProvisionedStores(
          deps.dataDir,
          (records) => registerStores(store, hqWriter, records, logger),
          logger,
        );
        stops.push(() => provisioned.stop());
        const issuance = await deps.issuance.startWriter(hqWriter);
        stops.push(() => issuance.stop());
        const centre = await deps.purse.startCentre({
          store,
          nats,
          refused,
          hqWriter,
          ...(deps.contacts ? { onBlacklistSync: deps.contacts.blacklistSent.bind(deps.contacts) } : {}),
          logger: childLogger(logger, { component: 'inquiry' }),
        });
        stops.push(() => centre.stop());
        const ingest = await startIngest({
          nc: nats.ingest,
          responder: nats.responder,
          refused,
          store,
          storeKeys: storeKeyDirectory(store),
          logger: childLogger(logger, { component: 'ingest' }),
          onRefusal: withMetrics(recordRefusals(hqWriter, logger), deps.metrics),
          ...(deps.contacts ? { onContact: deps.contacts.heard.bind(deps.contacts) } : {}),
          ...(deps.metrics ? { onStored: deps.metrics.stored.bind(deps.metrics) } : {}),
        });
        stops.push(() => ingest.stop());
        const checks = deps.books.startChecks(hqWriter);
        stops.push(() => checks.stop());
        return { hqWriter, office: issuance.office, centre, stop };
      } catch (error) {
        await stop();
        throw error;
      }
    },

    async follow(): Promise<FollowerRole> {
      const centre = await deps.purse.startCentre({ store, nats, refused, logger: childLogger(logger, { component: 'inquiry' }) });
      return { centre, stop: () => centre.stop() };
    },
  };
}

/** Records a refused batch, and counts it. */
function withMetrics(record: (refusal: BatchRefusal) => void, metrics: HeadOfficeMetrics | undefined) {
  return (refusal: BatchRefusal) => {
    metrics?.refused(refusal);
    record(refusal);
  };
}

/** Records the term in `hq`; a writer of an earlier term that appended meanwhile only makes it try again. */
async function startTerm(store: EventStore, signingKey: SigningKey, holder: LeaseHolder): Promise<void> {
  const writer = await HqWriter.open({ store, signingKey });
  const event = {
    type: 'HeadOfficeWriterStarted' as const,
    data: {
      instance: holder.instance,
      apiUrl: holder.apiUrl,
      term: holder.term,
    },
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await writer.append([{ event, streamId: HQ_WRITER_STREAM }]);
      return;
    } catch (error) {
      // The writer has taken up the chain where it now stands: the next attempt appends after it.
      if (!(error instanceof WrongExpectedRevisionError) || attempt === TERM_START_ATTEMPTS) throw error;
    }
  }
}

/**
 * Head office's own signing key, registered in `hq` like every store's (the key its blacklist
 * changes, lists, snapshots and lookup answers are signed with; stores get it at provisioning).
 */
async function registerHeadOfficeKey(store: EventStore, hqWriter: HqWriter, logger: Logger): Promise<void> {
  const key = hqWriter.signingKey;
  if (await storeKeyDirectory(store).publicKey(HQ_ORIGIN, key.keyId)) return;
  await hqWriter.append([
    {
      event: { type: 'StoreKeyRegistered', data: { storeId: HQ_ORIGIN, keyId: key.keyId, publicKey: rawPublicKey(key.publicKey) } },
      streamId: HQ_KEYS_STREAM,
    },
  ]);
  logger.info(`registered head office's signing key ${key.keyId}`);
}

/**
 * Provisioned stores whose keys the hq stream does not hold yet get their StoreRegistered and
 * StoreKeyRegistered appended, so that ingest knows their signing keys and the issuance snapshots
 * their neighbours and sealing keys.
 */
async function registerStores(store: EventStore, hqWriter: HqWriter, records: StoreRecord[], logger: Logger): Promise<void> {
  const registered = storeKeyDirectory(store);
  // Asked all at once, the misses share one read of `hq` instead of one each.
  const known = await Promise.all(records.map((record) => registered.isRegistered(record.storeId, record.signingKeyId)));
  const unregistered = records.filter((_, index) => !known[index]);
  // Many stores to an append: one signed, synced append per store made head office's first start
  // with thousands of provisioned stores take minutes.
  for (let first = 0; first < unregistered.length; first += STORES_PER_REGISTRATION_APPEND) {
    const chunk = unregistered.slice(first, first + STORES_PER_REGISTRATION_APPEND);
    await hqWriter.append(
      chunk.flatMap((record) => storeRegistrationEvents(record).map((event) => ({ event, streamId: `store-${record.storeId}` }))),
    );
    for (const record of chunk) logger.info(`registered provisioned store ${record.storeId} (key ${record.signingKeyId})`);
  }
}

/** Stores registered in one append to `hq` (two events each). */
const STORES_PER_REGISTRATION_APPEND = 500;
