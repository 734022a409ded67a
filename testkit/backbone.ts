// Real parts for replication tests: a nats-server in a temp dir, a SQLite host event store, head
// office's writer with registered store keys, edges and ingest.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { decodeEnvelope, type EventEnvelope } from '../contracts/index.js';
import { generateSigningKey, saveSigningKey, type EventInput, type SigningKey } from '../contracts/index.js';
import { startNatsServer, type NatsServer } from '../infra/nats/index.js';
import { SqliteEventStore, CHAIN_HEAD_RECORD_TYPE, originStreamName } from '../eventstore/index.js';
import { ensureEventsStream, startIngest, type Ingest } from '../host/ingest/index.js';
import { HqWriter, registerStore, storeKeyDirectory } from '../host/hq-writer/index.js';
import { startEdge, type EdgeNode } from '../edge/index.js';

/** Collects log lines so tests can assert on what was said. */
export function capturingLogger() {
  const lines: string[] = [];
  const echo = process.env.CARDSYS_TEST_ECHO_LOG === '1';
  const keep = (message: unknown) => {
    lines.push(String(message));
    if (echo) process.stderr.write(`${String(message)}\n`);
  };
  return { lines, logger: { info: keep, warn: keep, error: keep } };
}

export function purchase(i: number): EventInput {
  return {
    event: { type: 'PursePaid', data: { cardId: `card-${i % 97}`, amount: 100 + (i % 50), newBalance: 1000 } },
    streamId: `card-${i % 97}`,
  };
}

export interface Backbone {
  dir: string;
  nats: NatsServer;
  /** Test-side connection (head office's side). */
  nc: NatsConnection;
  eventStoreFile: string;
  store: SqliteEventStore;
  hq: HqWriter;
  keys: Map<string, { key: SigningKey; file: string }>;
  log: ReturnType<typeof capturingLogger>;
  startIngest(): Promise<Ingest>;
  startEdge(storeId: string, options?: { replication?: Parameters<typeof startEdge>[0]['replication'] }): Promise<EdgeNode>;
  /** The store's envelopes in the host event store, in stream order. */
  storedEnvelopes(storeId: string): Promise<EventEnvelope[]>;
  close(): Promise<void>;
}

/** Starts nats-server, the event store and head office; registers the given stores with fresh keys. */
export async function startBackbone(storeIds: string[]): Promise<Backbone> {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-backbone-'));
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  await ensureEventsStream(nc);
  const eventStoreFile = join(dir, 'host', 'events.db');
  const store = SqliteEventStore.open(eventStoreFile);
  const hq = await HqWriter.open({ store, signingKey: generateSigningKey() });
  const keys = new Map<string, { key: SigningKey; file: string }>();
  for (const storeId of storeIds) {
    const key = generateSigningKey();
    const file = join(dir, 'stores', storeId, 'signing-key.pem');
    saveSigningKey(key, file);
    keys.set(storeId, { key, file });
    await registerStore(hq, { storeId, name: `Store ${storeId}`, publicKey: key.publicKey });
  }
  const log = capturingLogger();
  const running: Array<{ stop(): Promise<void> }> = [];
  return {
    dir,
    nats,
    nc,
    eventStoreFile,
    store,
    hq,
    keys,
    log,
    async startIngest() {
      const ingest = await startIngest({ nc, store, storeKeys: storeKeyDirectory(store), logger: log.logger, ackWaitMs: 2000 });
      running.push(ingest);
      return ingest;
    },
    async startEdge(storeId, options = {}) {
      const edge = await startEdge({
        storeId,
        dataDir: join(dir, 'stores', storeId),
        natsUrl: nats.url,
        natsOptions: { reconnectTimeWait: 200 },
        signingKey: keys.get(storeId)!.key,
        logger: log.logger,
        replication: { stallMs: 1000, ...options.replication },
      });
      running.push(edge);
      return edge;
    },
    async storedEnvelopes(storeId) {
      const records = await store.readStream(originStreamName(storeId));
      return records.filter((record) => record.type !== CHAIN_HEAD_RECORD_TYPE).map((record) => decodeEnvelope(record.data));
    },
    async close() {
      for (const part of running.reverse()) await part.stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await store.close();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts the stored envelopes are exactly 1..count in order, each once. */
export function sequencesOf(envelopes: EventEnvelope[]): { count: number; inOrder: boolean; unique: number } {
  return {
    count: envelopes.length,
    inOrder: envelopes.every((envelope, index) => envelope.storeSeq === index + 1),
    unique: new Set(envelopes.map((envelope) => envelope.eventId)).size,
  };
}
