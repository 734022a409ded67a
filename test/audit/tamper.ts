// What an attacker with write access to head office's SQLite event store could do, and what an
// insider holding an origin's signing key could do on top (rewrite the chain and sign it again).
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  decodeEnvelope,
  decodeEvent,
  encodeEnvelope,
  encodeEvent,
  pb,
  type EventEnvelope,
  type NewDomainEvent,
} from '../../contracts/index.js';
import { GENESIS_HASH, signHead, type SigningKey } from '../../contracts/index.js';
import { auditDefaults } from '../../cli/commands/index.js';
import { CHAIN_HEAD_RECORD_TYPE } from '../../eventstore/index.js';

export interface StoredEvent {
  position: number;
  revision: number;
  envelope: EventEnvelope;
  data: Buffer;
}

const HEAD = CHAIN_HEAD_RECORD_TYPE;
const streamOf = (origin: string) => (origin === 'hq' ? 'hq' : `store-${origin}`);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest();

function withDb<T>(dataDir: string, run: (db: Database.Database) => T): T {
  const db = new Database(auditDefaults.eventStore(dataDir));
  try {
    return db.transaction(() => run(db))();
  } finally {
    db.close();
  }
}

/** An origin's stored envelopes in stream order (heads left out). */
export function storedEvents(dataDir: string, origin: string): StoredEvent[] {
  return withDb(dataDir, (db) =>
    (
      db
        .prepare('SELECT position, revision, data FROM events WHERE stream_id = ? AND type != ? ORDER BY revision')
        .all(streamOf(origin), HEAD) as { position: number; revision: number; data: Buffer }[]
    ).map((row) => ({ ...row, envelope: decodeEnvelope(row.data) })),
  );
}

/** Flips one bit of one byte inside the event's payload, in place. */
export function flipPayloadByte(dataDir: string, event: StoredEvent, payloadOffset: number): void {
  const data = Buffer.from(event.data);
  const start = data.indexOf(Buffer.from(event.envelope.payload));
  data[start + payloadOffset]! ^= 0x01;
  withDb(dataDir, (db) => db.prepare('UPDATE events SET data = ? WHERE position = ?').run(data, event.position));
}

export function deleteEvent(dataDir: string, event: StoredEvent): void {
  withDb(dataDir, (db) => db.prepare('DELETE FROM events WHERE position = ?').run(event.position));
}

/** Exchanges the places of two stored events (their ids, types and bytes). */
export function swapEvents(dataDir: string, a: StoredEvent, b: StoredEvent): void {
  withDb(dataDir, (db) => {
    const read = db.prepare('SELECT event_id, type, data FROM events WHERE position = ?');
    const rowA = read.get(a.position) as { event_id: string; type: string; data: Buffer };
    const rowB = read.get(b.position) as { event_id: string; type: string; data: Buffer };
    const write = db.prepare('UPDATE events SET event_id = ?, type = ?, data = ? WHERE position = ?');
    write.run(`${rowA.event_id}-moving`, rowA.type, rowA.data, a.position);
    write.run(rowA.event_id, rowA.type, rowA.data, b.position);
    write.run(rowB.event_id, rowB.type, rowB.data, a.position);
  });
}

/**
 * Appends to the origin's stream an envelope that follows its chain exactly (next seq, right
 * prev_hash) and a head for it signed with `key` (a forged one, or the origin's own to make a valid
 * event with a chosen id).
 */
export function injectEvent(
  dataDir: string,
  origin: string,
  event: NewDomainEvent,
  key: SigningKey,
  eventId = '0badc0de-0000-4000-8000-000000000001',
): EventEnvelope {
  const stored = storedEvents(dataDir, origin);
  const last = stored.at(-1)!;
  const envelope: EventEnvelope = {
    ...last.envelope,
    eventId,
    storeSeq: last.envelope.storeSeq + 1,
    prevHash: sha256(last.data),
    eventType: event.type,
    payload: encodeEvent(event),
  };
  const bytes = encodeEnvelope(envelope);
  const head = signHead(key, { storeId: origin, storeSeq: envelope.storeSeq, hash: sha256(bytes) });
  withDb(dataDir, (db) => {
    const { revision } = db.prepare('SELECT MAX(revision) AS revision FROM events WHERE stream_id = ?').get(streamOf(origin)) as {
      revision: number;
    };
    const insert = db.prepare('INSERT INTO events (stream_id, revision, event_id, type, data) VALUES (?, ?, ?, ?, ?)');
    insert.run(streamOf(origin), revision + 1, envelope.eventId, envelope.eventType, bytes);
    insert.run(
      streamOf(origin),
      revision + 2,
      '0badc0de-0000-4000-8000-000000000002',
      HEAD,
      pb.ChainHeadReceived.encode({ head, localHeadSeq: envelope.storeSeq, receivedAtMs: Date.now() }).finish(),
    );
  });
  return envelope;
}

/**
 * What an insider holding the origin's signing key could do: change or drop events, then number,
 * chain and sign the whole stream again so that every link and every head verifies.
 */
export function rewriteChain(
  dataDir: string,
  origin: string,
  key: SigningKey,
  change: (envelope: EventEnvelope) => EventEnvelope | undefined,
): void {
  withDb(dataDir, (db) => {
    const rows = db.prepare('SELECT position, type, data FROM events WHERE stream_id = ? ORDER BY revision').all(streamOf(origin)) as {
      position: number;
      type: string;
      data: Buffer;
    }[];
    const update = db.prepare('UPDATE events SET data = ? WHERE position = ?');
    const remove = db.prepare('DELETE FROM events WHERE position = ?');
    let seq = 0;
    let hash: Uint8Array = GENESIS_HASH;
    let sinceHead = 0;
    for (const row of rows) {
      if (row.type === HEAD) {
        if (sinceHead === 0) {
          remove.run(row.position);
          continue;
        }
        const received = pb.ChainHeadReceived.decode(row.data);
        const head = signHead(key, { storeId: origin, storeSeq: seq, hash });
        update.run(pb.ChainHeadReceived.encode({ head, localHeadSeq: seq, receivedAtMs: received.receivedAtMs }).finish(), row.position);
        sinceHead = 0;
        continue;
      }
      const changed = change(decodeEnvelope(row.data));
      if (changed === undefined) {
        remove.run(row.position);
        continue;
      }
      seq += 1;
      const bytes = encodeEnvelope({ ...changed, storeSeq: seq, prevHash: hash });
      hash = sha256(bytes);
      update.run(bytes, row.position);
      sinceHead += 1;
    }
  });
}

/** The envelope with its payload re-encoded after `edit` changed the decoded event's data. */
export function editPayload<T extends object>(envelope: EventEnvelope, edit: (data: T) => T): EventEnvelope {
  const event = decodeEvent(envelope.eventType, envelope.payload);
  return { ...envelope, payload: encodeEvent({ type: event.type, data: edit(event.data as T) } as NewDomainEvent) };
}
