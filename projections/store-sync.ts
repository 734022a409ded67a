import type Database from 'better-sqlite3';
import type { Projection } from './projection.js';
import { prepared } from './statements.js';
import { originOfStream, CHAIN_HEAD_RECORD_TYPE } from '../eventstore/index.js';

// Per store: how far head office has its events, what the store last reported as its own head,
// and when it was last heard from. Stores registered by head office appear before first contact.

const SCHEMA = `
CREATE TABLE IF NOT EXISTS store_sync (
  store_id TEXT PRIMARY KEY,
  name TEXT,
  registered_at_ms INTEGER,
  last_seq_received INTEGER NOT NULL DEFAULT 0,
  local_head_seq INTEGER NOT NULL DEFAULT 0,
  batches_received INTEGER NOT NULL DEFAULT 0,
  last_contact_at_ms INTEGER
);`;

export const storeSyncProjection: Projection = {
  name: 'store-sync',
  version: 1,
  schema: SCHEMA,
  tables: ['store_sync'],
  apply(db: Database.Database, event) {
    if (event.type === 'StoreRegistered') {
      prepared(
        db,
        `INSERT INTO store_sync (store_id, name, registered_at_ms) VALUES (?, ?, ?)
         ON CONFLICT (store_id) DO UPDATE SET name = excluded.name, registered_at_ms = excluded.registered_at_ms`,
      ).run(event.data.storeId, event.data.name, event.envelope.occurredAtMs);
      return;
    }
    if (event.type !== CHAIN_HEAD_RECORD_TYPE) return;
    const storeId = originOfStream(event.streamId);
    if (storeId === undefined || storeId === 'hq') return;
    const seq = event.data.head?.storeSeq ?? 0;
    prepared(
      db,
      `INSERT INTO store_sync (store_id, last_seq_received, local_head_seq, batches_received, last_contact_at_ms) VALUES (@storeId, @seq, @local, 1, @at)
       ON CONFLICT (store_id) DO UPDATE SET last_seq_received = MAX(last_seq_received, @seq), local_head_seq = MAX(local_head_seq, @local),
         batches_received = batches_received + 1, last_contact_at_ms = MAX(COALESCE(last_contact_at_ms, 0), @at)`,
    ).run({ storeId, seq, local: Math.max(event.data.localHeadSeq, seq), at: event.data.receivedAtMs });
  },
};
