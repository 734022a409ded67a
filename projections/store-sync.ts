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
  last_contact_at_ms INTEGER,
  -- The last batch head office refused and the store has not got past yet (NULL when none).
  refused_range TEXT,
  refused_reason TEXT,
  refused_event_type TEXT,
  refused_resend_from INTEGER,
  refused_at_ms INTEGER
);`;

export const storeSyncProjection: Projection = {
  name: 'store-sync',
  version: 2,
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
    if (event.type === 'StoreBatchRefused' && originOfStream(event.streamId) === 'hq') {
      prepared(
        db,
        `INSERT INTO store_sync (store_id, refused_range, refused_reason, refused_event_type, refused_resend_from, refused_at_ms)
         VALUES (@storeId, @range, @reason, @eventType, @resendFrom, @at)
         ON CONFLICT (store_id) DO UPDATE SET refused_range = @range, refused_reason = @reason, refused_event_type = @eventType,
           refused_resend_from = @resendFrom, refused_at_ms = @at`,
      ).run({ ...event.data, eventType: event.data.eventType || null, at: event.envelope.occurredAtMs });
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
         batches_received = batches_received + 1, last_contact_at_ms = MAX(COALESCE(last_contact_at_ms, 0), @at),
         refused_range = CASE WHEN refused_resend_from <= @seq THEN NULL ELSE refused_range END,
         refused_reason = CASE WHEN refused_resend_from <= @seq THEN NULL ELSE refused_reason END,
         refused_event_type = CASE WHEN refused_resend_from <= @seq THEN NULL ELSE refused_event_type END,
         refused_at_ms = CASE WHEN refused_resend_from <= @seq THEN NULL ELSE refused_at_ms END,
         refused_resend_from = CASE WHEN refused_resend_from <= @seq THEN NULL ELSE refused_resend_from END`,
    ).run({ storeId, seq, local: Math.max(event.data.localHeadSeq, seq), at: event.data.receivedAtMs });
  },
};
