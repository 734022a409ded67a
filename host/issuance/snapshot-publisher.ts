// Head office's side of the issuance info: seals each store's snapshot and every later change to
// that store's X25519 key, signs each sealed message with head office's key, and publishes them
// as the store's next numbered messages in the snapshot stream. Where a store stands is read back
// from the stream itself (the headers of its last message), so the publisher keeps no cursor of its
// own and resumes exactly after a restart.
import type Database from 'better-sqlite3';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pb, type cardsys } from '../../contracts/index.js';
import { createSealer, sealingPublicKeyFromRaw, signSealed, type Sealer, type SigningKey } from '../../contracts/index.js';
import {
  ensureSnapshotsStream,
  lastSnapshotMessage,
  publishSnapshotMessage,
  snapshotsStreamLastSeq,
  startSnapshotGeneration,
  streamReplicas,
} from '../../infra/nats/index.js';
import { snapshotSealContext } from '../../contracts/index.js';
import { IssuanceSnapshotReader, ISSUANCE_SNAPSHOT_SCHEMA, type SnapshotStore } from '../../projections/index.js';

import type { Logger } from '../../infra/index.js';

const HEADER = { feed: 'Cardsys-Feed', changeSeq: 'Cardsys-Change-Seq', generation: 'Cardsys-Generation' } as const;

export interface SnapshotPublisherOptions {
  nc: NatsConnection;
  /** The read-model database holding the issuance snapshot projection. */
  readModels: Database.Database;
  /** Head office's key: every message is signed with it, and stores take no other. */
  signingKey: SigningKey;
  logger?: Logger;
  /** How often the change feed is looked at. */
  pollMs?: number;
  /** Follow the change feed in the background (default); otherwise only publishPending() publishes. */
  follow?: boolean;
  /** Upper bound of entry bytes in one message (NATS' default max payload is 1 MiB). */
  partBytes?: number;
  /** Changes carried by one incremental message. */
  changesPerMessage?: number;
  /** After this many incremental messages a whole new snapshot replaces them in the stream. */
  compactAfterMessages?: number;
}

export interface PublishFigures {
  stores: number;
  /** Stores whose publication failed this pass (logged; retried on the next pass). */
  failedStores: number;
  fullSnapshots: number;
  changeMessages: number;
  messages: number;
  bytes: number;
}

export interface SnapshotPublisher {
  /** Publishes whatever is pending for every store now; resolves with what it sent. */
  publishPending(): Promise<PublishFigures>;
  stop(): Promise<void>;
}

interface StoreCursor {
  /** Number of the store's last message: the next is one more, and taken only once. */
  last: number;
  /** Number of the first message of the store's newest full generation. */
  generationStart: number;
  feed: string;
  changeSeq: number;
  generation: number;
}

/** Encodes a snapshot update around already-encoded entries, without decoding them again. */
function encodeSnapshotUpdate(update: cardsys.v1.IssuanceSnapshotUpdate.$Properties, entries: Uint8Array[]): Uint8Array {
  const writer = pb.IssuanceSnapshotUpdate.encode(update);
  // Field 5 (upserts), length-delimited: the same bytes `upserts` would encode to.
  for (const entry of entries) writer.uint32((5 << 3) | 2).bytes(entry);
  return writer.finish();
}

/** Cursors read at once from the snapshot stream (each one small request). */
const CURSOR_READS = 256;

export async function startSnapshotPublisher(options: SnapshotPublisherOptions): Promise<SnapshotPublisher> {
  const logger = options.logger ?? console;
  const partBytes = options.partBytes ?? 512 * 1024;
  const changesPerMessage = options.changesPerMessage ?? 400;
  const compactAfter = options.compactAfterMessages ?? 1000;
  options.readModels.exec(ISSUANCE_SNAPSHOT_SCHEMA);
  const reader = new IssuanceSnapshotReader(options.readModels);
  const js = jetstream(options.nc);
  const jsm = await jetstreamManager(options.nc);
  await ensureSnapshotsStream(jsm, streamReplicas(options.nc));
  const cursors = new Map<string, StoreCursor | undefined>();
  /** The stream's last sequence, which every publish expects: undefined until read (again, after a failure). */
  let streamSeq: number | undefined;
  const expectedSeq = async () => (streamSeq ??= await snapshotsStreamLastSeq(jsm));

  const headersOf = (cursor: StoreCursor) => {
    const h = headers();
    h.set(HEADER.feed, cursor.feed);
    h.set(HEADER.changeSeq, String(cursor.changeSeq));
    h.set(HEADER.generation, String(cursor.generation));
    return h;
  };
  const positionOf = (cursor: StoreCursor) => ({ number: cursor.last, generationStart: cursor.generationStart });

  /** Publishes the cursor's next message; resolves with its stream sequence. */
  const publish = async (store: SnapshotStore, cursor: StoreCursor, payload: Uint8Array, msgID: string, figures: PublishFigures) => {
    const position = { number: cursor.last + 1, generationStart: cursor.generationStart };
    const ack = await publishSnapshotMessage(js, store.storeId, position, payload, {
      streamSeq: await expectedSeq(),
      msgID,
      headers: headersOf(cursor),
    });
    streamSeq = ack.seq;
    cursor.last = position.number;
    figures.messages++;
    figures.bytes += payload.length;
    return ack.seq;
  };

  const cursorOf = async (store: SnapshotStore): Promise<StoreCursor | undefined> => {
    if (cursors.has(store.storeId)) return cursors.get(store.storeId);
    return readCursor(store.storeId);
  };

  const readCursor = async (storeId: string): Promise<StoreCursor | undefined> => {
    const last = await lastSnapshotMessage(jsm, storeId);
    const cursor: StoreCursor | undefined = last
      ? {
          last: last.position.number,
          generationStart: last.position.generationStart,
          feed: last.header.get(HEADER.feed),
          changeSeq: Number(last.header.get(HEADER.changeSeq)),
          generation: Number(last.header.get(HEADER.generation)),
        }
      : undefined;
    cursors.set(storeId, cursor);
    return cursor;
  };

  /**
   * Reads the cursors not held yet, CURSOR_READS at a time: after a start, one request after another
   * for each of thousands of stores kept the first pass waiting seconds before it published anything.
   */
  const readCursors = async (stores: SnapshotStore[]) => {
    const missing = stores.filter((store) => !cursors.has(store.storeId)).map((store) => store.storeId);
    for (let first = 0; first < missing.length; first += CURSOR_READS)
      await Promise.all(missing.slice(first, first + CURSOR_READS).map(readCursor));
  };

  const sealerFor = (store: SnapshotStore): Sealer => {
    const context = snapshotSealContext(store.storeId);
    const sealer = createSealer(sealingPublicKeyFromRaw(store.sealingKey), context);
    return { seal: (plaintext) => signSealed(options.signingKey, context, sealer.seal(plaintext)) };
  };

  const publishFull = async (store: SnapshotStore, previous: StoreCursor | undefined, feed: string, figures: PublishFigures) => {
    const { changeSeq, entries } = reader.snapshot(store.storeId);
    const last = previous?.last ?? 0;
    const cursor: StoreCursor = { last, generationStart: last + 1, feed, changeSeq, generation: (previous?.generation ?? 0) + 1 };
    const parts: Uint8Array[][] = [[]];
    let size = 0;
    for (const entry of entries) {
      if (size + entry.length > partBytes && parts[parts.length - 1]!.length > 0) {
        parts.push([]);
        size = 0;
      }
      parts[parts.length - 1]!.push(entry);
      size += entry.length + 4;
    }
    const sealer = sealerFor(store);
    let firstSeq = 0;
    for (const [index, part] of parts.entries()) {
      const update = { storeId: store.storeId, generation: cursor.generation, part: index + 1, parts: parts.length, changeSeq };
      const seq = await publish(
        store,
        cursor,
        sealer.seal(encodeSnapshotUpdate(update, part)),
        `${feed}:${store.storeId}:g${cursor.generation}:${index + 1}`,
        figures,
      );
      if (index === 0) firstSeq = seq;
    }
    // Everything of the store's before the new generation is superseded by it.
    streamSeq = await startSnapshotGeneration(js, jsm, store.storeId, positionOf(cursor), previous ? firstSeq : 0, {
      streamSeq: await expectedSeq(),
      headers: headersOf(cursor),
    });
    cursors.set(store.storeId, cursor);
    figures.fullSnapshots++;
    logger.info(
      `issuance snapshot of store ${store.storeId}: generation ${cursor.generation}, ${entries.length} users in ${parts.length} parts`,
    );
  };

  const publishChanges = async (store: SnapshotStore, cursor: StoreCursor, figures: PublishFigures): Promise<'done' | 'full'> => {
    const sealer = sealerFor(store);
    for (;;) {
      const changes = reader.changesAfter(store.storeId, cursor.changeSeq, changesPerMessage);
      if (changes.length === 0) return 'done';
      if (changes.some((change) => change.bankId === undefined) || cursor.last - cursor.generationStart + 1 >= compactAfter) return 'full';
      const bankIds = [...new Set(changes.map((change) => change.bankId!))];
      const upserts: Uint8Array[] = [];
      const removed: string[] = [];
      for (const bankId of bankIds) {
        const entry = reader.entryForStore(store.storeId, bankId);
        if (entry) upserts.push(entry);
        else removed.push(bankId);
      }
      const changeSeq = changes[changes.length - 1]!.changeSeq;
      const next = { ...cursor, changeSeq };
      const update = { storeId: store.storeId, generation: cursor.generation, part: 0, parts: 0, removedBankIds: removed, changeSeq };
      await publish(
        store,
        next,
        sealer.seal(encodeSnapshotUpdate(update, upserts)),
        `${cursor.feed}:${store.storeId}:c${changeSeq}`,
        figures,
      );
      cursor.last = next.last;
      cursor.changeSeq = changeSeq;
      figures.changeMessages++;
    }
  };

  const publishStore = async (store: SnapshotStore, feed: string, figures: PublishFigures) => {
    const cursor = await cursorOf(store);
    if (!cursor || cursor.feed !== feed) return publishFull(store, cursor, feed, figures);
    if ((await publishChanges(store, cursor, figures)) === 'full') await publishFull(store, cursor, feed, figures);
  };

  let running: Promise<PublishFigures> | undefined;
  const publishPending = (): Promise<PublishFigures> => {
    // One pass at a time: a caller arriving mid-pass waits for it and then runs its own.
    const pass = (running ?? Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        const figures: PublishFigures = { stores: 0, failedStores: 0, fullSnapshots: 0, changeMessages: 0, messages: 0, bytes: 0 };
        const feed = reader.feedId();
        const stores = reader.stores();
        await readCursors(stores).catch((error: Error) => logger.warn(`issuance snapshots: reading where stores stand: ${error.message}`));
        for (const store of stores) {
          try {
            await publishStore(store, feed, figures);
            figures.stores++;
          } catch (error) {
            // Perhaps another publisher wrote: every store's cursor and the stream's end are read again.
            cursors.clear();
            streamSeq = undefined;
            figures.failedStores++;
            logger.error(`issuance snapshot of store ${store.storeId} not published: ${(error as Error).message}`);
          }
        }
        return figures;
      });
    running = pass;
    return pass;
  };

  let stopped = false;
  // A store registered or given a new key adds a change to the feed, so the feed's head (and its
  // id, new when the read model is rebuilt) says when to publish: a poll costs the same at any
  // number of stores.
  let lastSeen = -1;
  let lastFeed = '';
  let wake: () => void = () => {};
  const poll = async () => {
    while (!stopped && options.follow !== false) {
      try {
        const head = reader.headChangeSeq();
        const feed = reader.feedId();
        if (head !== lastSeen || feed !== lastFeed) {
          const figures = await publishPending();
          if (figures.failedStores === 0) {
            lastSeen = head;
            lastFeed = feed;
          }
        }
      } catch (error) {
        logger.error(`issuance publisher: ${(error as Error).message}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 200);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  };
  const loop = poll();

  return {
    publishPending,
    async stop() {
      stopped = true;
      wake();
      await loop;
      await running?.catch(() => undefined);
    },
  };
}
