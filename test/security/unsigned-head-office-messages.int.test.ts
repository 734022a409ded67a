// Attack 6, unsigned head-office messages: a store acts on a blacklist change or list, a snapshot
// message or a lookup answer only when head office's signature over it verifies, and head office
// answers a lookup only when the asking store signed it. Forgeries come from where they could: a
// rogue broker holding store A's bundle injects into A's account, a store asks with another store's
// key, a server standing in for head office answers with a key that is not head office's.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  generateSealingKey,
  generateSigningKey,
  keyIdOf,
  LOOKUP_ERROR_HEADER,
  loadPublicKey,
  loadSealingPublicKey,
  loadSigningKey,
  lookupReplySealContext,
  lookupRequestSealContext,
  pb,
  seal,
  signHeadOfficeMessage,
  signSealed,
  snapshotSealContext,
  subjects,
  type SigningKey,
} from '../../contracts/index.js';
import type { EdgeNode } from '../../edge/index.js';
import { IssuanceCache, IssuanceInfo } from '../../edge/issuance/index.js';
import { BlacklistCache } from '../../edge/purse/index.js';
import { tokenFor } from '../../host/api/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { capturingLogger } from '../../testkit/backbone.js';
import { until } from '../../testkit/purse-world.js';
import { startDeployment, type Broker, type Deployment } from './deployment.js';

const cardOf = (n: number) => `00000000000000${n.toString(16).padStart(2, '0')}`;

describe('attack 6: blacklist changes forged into store A by a rogue broker with its bundle', () => {
  let deployment: Deployment;
  let rogue: Broker;
  let edgeA: EdgeNode;
  let rogueClient: NatsConnection;
  const edgeLog = capturingLogger();

  beforeAll(async () => {
    deployment = await startDeployment(['A']);
    // Store A's broker gone rogue: it admits anyone, and its leaf link (A's certificate) still carries head office's changes.
    rogue = await deployment.startRogueBroker('A');
    edgeA = await deployment.startEdge('A', rogue.url, edgeLog.logger, { natsOptions: {} });
    rogueClient = await deployment.connect(rogue.url, {});
    await until(() => edgeA.purse!.link.online, "store A's edge to reach head office");
  }, 60_000);
  afterAll(async () => {
    await deployment?.close();
  });

  const blacklist = async (cardId: string, method: 'POST' | 'DELETE' = 'POST') => {
    const response = await deployment.host.api.inject({
      method,
      url: `/v1/cards/${cardId}/blacklist`,
      headers: { authorization: `Bearer ${await tokenFor(deployment.hqDataDir, 'operator')}` },
      payload: { reason: 'reported stolen' },
    });
    expect(response.statusCode, response.body).toBe(method === 'POST' ? 201 : 200);
    return (response.json() as { version: number }).version;
  };

  it("is refused, logged and counted, and the store's list still follows head office's real changes", async () => {
    const list = edgeA.purse!.blacklist;
    const first = await blacklist(cardOf(1));
    await until(() => list.find(cardOf(1)) !== undefined, "head office's real change to reach store A");
    expect(list.version).toBe(first);

    const forger = generateSigningKey();
    const hqKeyId = keyIdOf(loadPublicKey(deployment.bundle('A').hqSigningPublicKey));
    const change = (version: number, cardId: string, blacklisted: boolean) => ({
      version,
      cardId,
      blacklisted,
      reason: 'forged',
      atMs: Date.now(),
    });
    const signedByForger = signHeadOfficeMessage('BlacklistChange', forger, change(1_000_000, cardOf(1), false));
    const forgeries = [
      // Unsigned, far ahead: would have frozen the list.
      change(1_000_000, cardOf(9), true),
      // Signed, but by a key that is not head office's: would have reinstated the stolen card.
      signedByForger,
      // Naming head office's key, with the forger's signature, as the very next version.
      { ...signHeadOfficeMessage('BlacklistChange', forger, change(first + 1, cardOf(8), true)), keyId: hqKeyId },
    ];
    for (const forged of forgeries) rogueClient.publish(subjects.blacklistChanges, pb.BlacklistChange.encode(forged).finish());
    await rogueClient.flush();
    await until(() => list.refused === forgeries.length, 'store A to refuse every forged change');

    expect(list.find(cardOf(1))).toBeDefined();
    expect(list.find(cardOf(9))).toBeUndefined();
    expect(list.find(cardOf(8))).toBeUndefined();
    expect(list.version).toBe(first);
    const refusals = edgeLog.lines.filter((line) => line.startsWith('blacklist: store A refused a change'));
    expect(refusals).toEqual([
      'blacklist: store A refused a change version 1000000 (card 0000000000000009), not applied: it is not signed (head office signs every BlacklistChange)',
      `blacklist: store A refused a change version 1000000 (card 0000000000000001), not applied: it is signed with key ${forger.keyId}, not head office's key ${hqKeyId}`,
      `blacklist: store A refused a change version ${first + 1} (card 0000000000000008), not applied: its signature does not verify with head office's key ${hqKeyId}`,
    ]);

    // Not frozen: head office's next real changes arrive and apply.
    const second = await blacklist(cardOf(2));
    await until(() => list.find(cardOf(2)) !== undefined, "head office's next change to reach store A");
    await blacklist(cardOf(1), 'DELETE');
    await until(() => list.find(cardOf(1)) === undefined, "head office's reinstatement to reach store A");
    expect(list.version).toBe(second + 1);
  });
});

describe('attack 6: lookups signed by the wrong store, with real credentials', () => {
  let deployment: Deployment;

  beforeAll(async () => {
    deployment = await startDeployment(['A', 'B']);
  }, 60_000);
  afterAll(async () => {
    await deployment?.close();
  });

  it('head office answers a lookup only when the store whose subject it came on signed it', async () => {
    const storeA = await deployment.connectToHub('A', 'store');
    const bundleA = deployment.bundle('A');
    const question = pb.IssuanceLookupRequest.encode({ storeId: 'A', bankId: '00012340000001', cardId: cardOf(1) }).finish();
    const sealed = seal(loadSealingPublicKey(bundleA.hqSealingPublicKey), lookupRequestSealContext, question);
    const ask = async (body: Uint8Array) =>
      (await storeA.request(subjects.lookup('A'), body, { timeout: 5000 })).headers?.get(LOOKUP_ERROR_HEADER) ?? 'answered';
    const keyB = loadSigningKey(deployment.bundle('B').signingKey);
    expect(await ask(signSealed(keyB, lookupRequestSealContext, sealed))).toBe(
      `the lookup is signed with key ${keyB.keyId}, which is not registered for store A`,
    );
    expect(await ask(sealed)).toBe('unreadable lookup: not a signed sealed blob: its sender did not sign it');
    // Store A's own signature: answered (no such user, but answered).
    expect(await ask(signSealed(loadSigningKey(bundleA.signingKey), lookupRequestSealContext, sealed))).toBe('answered');
    expect(deployment.log.lines).toContain(
      `issuance lookup from store A refused: the lookup is signed with key ${keyB.keyId}, which is not registered for store A`,
    );
  });
});

describe('attack 6: lists, snapshots and lookup answers from a server standing in for head office', () => {
  let root: string;
  let server: NatsServer;
  let nc: NatsConnection;
  const dbs: Database.Database[] = [];
  /** A fresh edge.db for each part. */
  const edgeDb = (name: string) => {
    const db = new Database(join(root, `${name}.db`));
    dbs.push(db);
    return db;
  };
  const headOffice: SigningKey = generateSigningKey();
  const forger: SigningKey = generateSigningKey();
  const storeSealing = generateSealingKey();
  const log = capturingLogger();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'cardsys-signed-'));
    server = await startNatsServer({ dataDir: join(root, 'nats') });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    for (const db of dbs) db.close();
    await server?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** Answers the next request on the subject with `reply`. */
  const answerOnce = (subject: string, reply: Uint8Array) => {
    const subscription = nc.subscribe(subject, { max: 1, callback: (_error, msg) => void msg.respond(reply) });
    return nc.flush().then(() => subscription);
  };

  it('a whole list signed by another key, or older than the one held, is refused; head office’s is taken', async () => {
    const list = new BlacklistCache(edgeDb('blacklist'), 'A', { name: 'head office', publicKey: headOffice.publicKey }, log.logger);
    const reply = (key: SigningKey, version: number, cardIds: string[]) =>
      pb.BlacklistSyncReply.encode(
        signHeadOfficeMessage('BlacklistSyncReply', key, {
          version,
          entries: cardIds.map((cardId) => ({ cardId, reason: 'x', sinceMs: 1 })),
        }),
      ).finish();
    await answerOnce(subjects.blacklistSync('A'), reply(forger, 999, [cardOf(9)]));
    await list.sync(nc);
    expect({ version: list.version, refused: list.refused, listed: list.find(cardOf(9)) }).toEqual({
      version: 0,
      refused: 1,
      listed: undefined,
    });
    await answerOnce(subjects.blacklistSync('A'), reply(headOffice, 5, [cardOf(1)]));
    await list.sync(nc);
    expect(list.version).toBe(5);
    expect(list.find(cardOf(1))).toBeDefined();
    // Head office's own signature on an older list: a replay, refused.
    await answerOnce(subjects.blacklistSync('A'), reply(headOffice, 3, []));
    await list.sync(nc);
    expect({ version: list.version, refused: list.refused }).toEqual({ version: 5, refused: 2 });
    expect(log.lines).toContain(
      `blacklist: store A refused a list at version 999, not applied: it is signed with key ${forger.keyId}, not head office's key ${headOffice.keyId}`,
    );
    expect(log.lines).toContain(
      'blacklist: store A refused a list at version 3, not applied: it is at version 3, older than the list held (5)',
    );
  });

  it('a snapshot message sealed to the store but signed by another sender is refused, and nothing of it applied', () => {
    const cache = new IssuanceCache(edgeDb('snapshot'), 'A', storeSealing.privateKey, snapshotSealContext('A'), {
      name: 'head office',
      publicKey: headOffice.publicKey,
    });
    const update = pb.IssuanceSnapshotUpdate.encode({
      storeId: 'A',
      generation: 1,
      part: 1,
      parts: 1,
      upserts: [{ bankId: '00012340000001', userId: 'user-1', homeStoreId: 'A' }],
    }).finish();
    const sealed = seal(storeSealing.publicKey, snapshotSealContext('A'), update);
    const before = cache.state();
    expect(() => cache.apply(1, signSealed(forger, snapshotSealContext('A'), sealed))).toThrow(
      `the blob is signed with key ${forger.keyId}, not head office's key ${headOffice.keyId}`,
    );
    expect(() => cache.apply(1, sealed)).toThrow('not a signed sealed blob: its sender did not sign it');
    const relabelled = signSealed(forger, snapshotSealContext('A'), sealed);
    Buffer.from(headOffice.keyId, 'hex').copy(relabelled, 1);
    expect(() => cache.apply(1, relabelled)).toThrow(`the blob's signature does not verify with head office's key ${headOffice.keyId}`);
    expect(cache.state()).toEqual(before);
    expect(cache.size()).toBe(0);
    expect(cache.apply(1, signSealed(headOffice, snapshotSealContext('A'), sealed))).toMatchObject({ kind: 'replaced', entries: 1 });
    expect(cache.find('00012340000001')).toMatchObject({ userId: 'user-1' });
  });

  it('a lookup answer sealed to the store but signed by another sender is not believed', async () => {
    const info = new IssuanceInfo({
      storeId: 'A',
      db: edgeDb('lookup'),
      sealingKey: storeSealing.privateKey,
      hqSealingPublicKey: generateSealingKey().publicKey,
      hqSigningPublicKey: headOffice.publicKey,
      signingKey: generateSigningKey(),
      lookupTimeoutMs: 2000,
      logger: log.logger,
    });
    info.attach(nc);
    try {
      const entry = {
        bankId: '00012340000099',
        userId: 'user-99',
        homeStoreId: 'A',
        cards: [{ cardId: cardOf(99), expiry: '2031-11-30' }],
      };
      const answer = pb.IssuanceLookupReply.encode({ found: true, entry }).finish();
      const sealed = seal(storeSealing.publicKey, lookupReplySealContext('A'), answer);
      await answerOnce(subjects.lookup('A'), signSealed(forger, lookupReplySealContext('A'), sealed));
      expect(await info.find(entry.bankId, cardOf(99))).toEqual({
        found: false,
        reason: 'head_office_unreachable',
        detail: `head office's answer cannot be read: the blob is signed with key ${forger.keyId}, not head office's key ${headOffice.keyId}`,
      });
      expect(info.cache.find(entry.bankId)).toBeUndefined();
      await answerOnce(subjects.lookup('A'), signSealed(headOffice, lookupReplySealContext('A'), sealed));
      expect(await info.find(entry.bankId, cardOf(99))).toMatchObject({ found: true, source: 'head_office' });
    } finally {
      await info.stop();
    }
  });
});
