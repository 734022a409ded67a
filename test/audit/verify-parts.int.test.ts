import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb } from '../../contracts/index.js';
import { generateSigningKey, rawPublicKey, sealEnvelope, signHead, GENESIS_HASH, type SigningKey } from '../../contracts/index.js';
import { deriveCardKey, fromHex, transactionMac } from '../../card/index.js';
import { SqliteEventStore, chainHeadRecord } from '../../eventstore/index.js';
import { CardMacs, eventStoreSource, KeyRing, openExport, replayAndVerify, writeExport, type Finding } from '../../audit/index.js';
import { encryptWords, expandKey, wordsOf } from '../../audit/index.js';
import { readEnvelope } from '../../audit/index.js';
import { writeSignedHistory, type SignedHistory } from '../../bench/index.js';

let dir: string;
let history: SignedHistory;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cardsys-audit-parts-'));
  history = await writeSignedHistory({ file: join(dir, 'events.db'), events: 3_000, stores: 3, cardsPerStore: 20, batchSize: 100 });
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keysOf(h: SignedHistory): KeyRing {
  const keys = new KeyRing();
  keys.addHq(rawPublicKey(h.hqKey.publicKey));
  return keys;
}

async function replayFile(file: string, options: { after?: bigint; inWorker?: boolean } = {}) {
  const store = SqliteEventStore.open(file);
  try {
    return await replayAndVerify({
      source: eventStoreSource(store, { after: options.after, batchSize: 500 }),
      keys: keysOf(history),
      issuerKeys: history.issuerKeys,
      fromGenesis: (options.after ?? 0n) === 0n,
      inWorker: options.inWorker,
    });
  } finally {
    await store.close();
  }
}

describe('the fast paths agree with the reference implementations', () => {
  it('AES-128 in words gives what OpenSSL gives, for random keys and blocks', () => {
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(16);
      const plain = randomBytes(16);
      const out = new Uint32Array(4);
      encryptWords(expandKey(key), wordsOf(plain), out);
      expect([...out]).toEqual([...wordsOf(createCipheriv('aes-128-ecb', key, null).setAutoPadding(false).update(plain))]);
    }
  });

  it("card MACs are the card's own transactionMac, and a changed amount fails", () => {
    const master = randomBytes(16);
    const macs = new CardMacs(master);
    for (let i = 0; i < 100; i++) {
      const cardId = randomBytes(8).toString('hex');
      const t = {
        operation: i % 2 ? ('credit' as const) : ('debit' as const),
        counter: i + 1,
        amount: 100 * i + 7,
        newBalance: 50_000 - i,
        terminalId: randomBytes(8),
      };
      const expected = transactionMac(
        deriveCardKey(master, fromHex(cardId), 'transaction'),
        t.operation,
        fromHex(cardId),
        t.counter,
        t.amount,
        t.newBalance,
        t.terminalId,
      );
      expect(Buffer.from(macs.mac(cardId, t))).toEqual(Buffer.from(expected));
      expect(macs.check(macs.key(cardId), { ...t, mac: expected })).toBe(true);
      expect(macs.check(macs.key(cardId), { ...t, amount: t.amount + 1, mac: expected })).toBe(false);
    }
  });

  it('the envelope reader gives the fields the full decoder gives, and refuses what it refuses', () => {
    const sealed = sealEnvelope('s1', 42, GENESIS_HASH, {
      streamId: 'card-x',
      commandId: 'cmd',
      event: { type: 'PursePaid', data: { cardId: 'c', amount: 5_500, newBalance: 7_500 } },
    });
    const view = readEnvelope(sealed.bytes);
    expect(view).toMatchObject({
      eventId: sealed.envelope.eventId,
      storeId: 's1',
      storeSeq: 42,
      eventType: 'PursePaid',
      occurredAtMs: sealed.envelope.occurredAtMs,
    });
    expect(Buffer.from(view.payload)).toEqual(Buffer.from(sealed.envelope.payload));
    expect(Buffer.from(view.prevHash)).toEqual(Buffer.from(GENESIS_HASH));
    expect(() => readEnvelope(sealed.bytes.subarray(0, sealed.bytes.length - 3))).toThrow(/EventEnvelope/);
  });
});

describe('replay on a signed history written straight into the event store', () => {
  it.each([false, true])(
    'verifies clean: every chain signed to its end, every card MAC and debit matched (checks in a worker: %s)',
    async (inWorker) => {
      const result = await replayFile(history.file, { inWorker });
      expect(result.findings).toEqual([]);
      expect(result.events).toBe(history.storeEvents + history.hqEvents);
      expect(result.origins.every((o) => o.coveredSeq === o.lastSeq && o.lastSeq > 0)).toBe(true);
      expect(result.purse.loads).toBe(result.purse.debits);
    },
  );

  it('from a position: each chain and card is anchored at its first event read, and still verifies', async () => {
    const result = await replayFile(history.file, { after: 1_500n });
    expect(result.findings).toEqual([]);
    expect(result.records).toBe(history.records - 1_500);
    expect(result.notes.join(' ')).toMatch(/anchored/);
  });

  it('the last events of a store deleted: the signed head that covered them says the chain stops short', async () => {
    const file = join(dir, 'tail.db');
    writeFileSync(file, readFileSync(history.file));
    const db = new Database(file);
    const last = db
      .prepare("SELECT MAX(position) AS position FROM events WHERE stream_id = 'store-store01' AND type != 'ChainHeadReceived'")
      .get() as { position: number };
    db.prepare('DELETE FROM events WHERE position = ?').run(last.position);
    db.close();
    const result = await replayFile(file);
    expect(result.findings.map((f) => [f.check, f.store])).toContainEqual(['head.beyond-events', 'store01']);
    expect(result.findings.filter((f) => f.check.startsWith('chain') || f.check.startsWith('sequence'))).toEqual([]);
  });

  it("a store's rotated key: heads signed by either registered key verify; an unregistered one is named", async () => {
    const file = join(dir, 'rotation.db');
    const store = SqliteEventStore.open(file);
    const hq: SigningKey = history.hqKey;
    const first = generateSigningKey();
    const second = generateSigningKey();
    let hqSeq = 0;
    let hqHash: Uint8Array = GENESIS_HASH;
    const registration = [first, second].map((key) => {
      const sealed = sealEnvelope('hq', ++hqSeq, hqHash, {
        streamId: 'store-r1',
        event: { type: 'StoreKeyRegistered', data: { storeId: 'r1', keyId: key.keyId, publicKey: rawPublicKey(key.publicKey) } },
      });
      hqHash = sealed.hash;
      return { id: sealed.envelope.eventId, type: sealed.envelope.eventType, data: sealed.bytes };
    });
    await store.appendToStream(
      'hq',
      [...registration, chainHeadRecord(signHead(hq, { storeId: 'hq', storeSeq: hqSeq, hash: hqHash }), hqSeq)],
      'no_stream',
    );
    let seq = 0;
    let hash: Uint8Array = GENESIS_HASH;
    for (const key of [first, second, generateSigningKey()]) {
      const sealed = sealEnvelope('r1', ++seq, hash, {
        streamId: 'x',
        event: {
          type: 'PurseOperationDeclined',
          data: { cardId: 'c', operation: 'pay', amount: 1, reason: 'insufficient_balance', storeId: 'r1' },
        },
      });
      hash = sealed.hash;
      await store.appendToStream('store-r1', [
        { id: sealed.envelope.eventId, type: sealed.envelope.eventType, data: sealed.bytes },
        chainHeadRecord(signHead(key, { storeId: 'r1', storeSeq: seq, hash }), seq),
      ]);
    }
    const result = await replayAndVerify({ source: eventStoreSource(store), keys: keysOf(history), fromGenesis: true });
    await store.close();
    expect(result.findings.map((f: Finding) => [f.check, f.store, f.seq])).toEqual([
      ['head.signature', 'r1', 3],
      ['chain.unsigned', 'r1', 3],
    ]);
  });

  it('an export file changed after it was written: the digest and the changed event are named', async () => {
    const store = SqliteEventStore.open(history.file);
    const file = join(dir, 'history.export');
    const manifest = await writeExport(
      eventStoreSource(store),
      file,
      {},
      { storeKeys: [], hqPublicKey: rawPublicKey(history.hqKey.publicKey) },
    );
    await store.close();
    expect(Number(manifest.records)).toBe(history.records);
    const clean = await replayAndVerify({
      source: openExport(file),
      keys: keysOf(history),
      issuerKeys: history.issuerKeys,
      fromGenesis: true,
    });
    expect(clean.findings).toEqual([]);

    // Flip a byte inside the 1,000th record's envelope bytes.
    const bytes = readFileSync(file);
    const reader = openExport(file);
    let target: { id: string; data: Uint8Array } | undefined;
    let seen = 0;
    for await (const batch of reader.batches()) {
      for (const record of batch) if (++seen === 1_000) target = record;
    }
    const envelope = pb.EventEnvelope.decode(target!.data);
    const at = bytes.indexOf(Buffer.from(target!.data));
    bytes[at + target!.data.length - 2]! ^= 0x01;
    writeFileSync(file, bytes);
    const tampered = await replayAndVerify({
      source: openExport(file),
      keys: keysOf(history),
      issuerKeys: history.issuerKeys,
      fromGenesis: true,
    });
    expect(tampered.findings).toContainEqual(expect.objectContaining({ check: 'export.digest' }));
    expect(tampered.findings).toContainEqual(
      expect.objectContaining({ check: 'chain.hash', store: envelope.storeId, seq: envelope.storeSeq, eventId: envelope.eventId }),
    );
  });
});
