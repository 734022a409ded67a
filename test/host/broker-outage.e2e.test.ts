// Head office through a 60 s broker outage under load: it reconnects by itself, says so, and
// catches up with everything the store appended meanwhile, nothing lost or doubled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeEnvelope } from '../../contracts/index.js';
import { generateSigningKey } from '../../contracts/index.js';
import { registerStore } from '../../host/hq-writer/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { startEdge, type EdgeNode } from '../../edge/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { capturingLogger, purchase, sequencesOf } from '../../testkit/backbone.js';
import { CHAIN_HEAD_RECORD_TYPE, originStreamName } from '../../eventstore/index.js';

const OUTAGE_MS = 60_000;

describe('head office and a store through a 60 s broker outage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-outage-'));
  let nats: NatsServer | undefined;
  let host: HostNode | undefined;
  let edge: EdgeNode | undefined;
  afterAll(async () => {
    await edge?.stop();
    await host?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it(
    'reconnects by itself, logs the outage and the return, and ingests every event once',
    async () => {
      nats = await startNatsServer({ dataDir: join(dir, 'nats') });
      const hostLog = capturingLogger();
      host = await startHost({ dataDir: join(dir, 'hq'), natsUrl: nats.url, http: { host: '127.0.0.1', port: 0 }, logger: hostLog.logger });
      const key = generateSigningKey();
      await registerStore(host.hqWriter, { storeId: 'S1', name: 'Shop 1', publicKey: key.publicKey });
      edge = await startEdge({
        storeId: 'S1',
        dataDir: join(dir, 'stores', 'S1'),
        natsUrl: nats.url,
        signingKey: key,
        logger: capturingLogger().logger,
        replication: { stallMs: 1000 },
      });
      const storedCount = async () =>
        (await host!.store.readStream(originStreamName('S1'))).filter((r) => r.type !== CHAIN_HEAD_RECORD_TYPE).length;

      let appended = 0;
      const appendSome = async (n: number) => {
        await edge!.log.append(Array.from({ length: n }, (_, k) => purchase(appended + k)));
        appended += n;
      };
      await appendSome(500);
      await expect.poll(storedCount, { timeout: 20_000 }).toBe(500);

      await nats.stop();
      const outageEnds = Date.now() + OUTAGE_MS;
      // The store keeps taking pays while the broker is down.
      while (Date.now() < outageEnds) {
        await appendSome(100);
        await new Promise((resolve) => setTimeout(resolve, 2_000));
      }
      const health = await (await fetch(`${host.url}/healthz`)).json();
      expect(health).toMatchObject({
        status: 'degraded',
        nats: { ok: false, detail: expect.stringMatching(/^reconnecting: NATS unreachable since /) },
      });
      expect(hostLog.lines.some((line) => /host \w+: lost the NATS connection/.test(line))).toBe(true);

      await nats.start();
      await appendSome(100);
      await expect.poll(storedCount, { timeout: 60_000, interval: 500 }).toBe(appended);
      await edge.replicator.whenConfirmed(appended);
      const stored = (await host.store.readStream(originStreamName('S1')))
        .filter((r) => r.type !== CHAIN_HEAD_RECORD_TYPE)
        .map((r) => decodeEnvelope(r.data));
      expect(sequencesOf(stored)).toEqual({ count: appended, inOrder: true, unique: appended });
      expect(hostLog.lines.some((line) => /host \w+: reconnected to NATS at .* after \d+\.\d s/.test(line))).toBe(true);
      await expect
        .poll(async () => ((await (await fetch(`${host!.url}/healthz`)).json()) as { nats: unknown }).nats, { timeout: 10_000 })
        .toMatchObject({ ok: true, reconnects: 1 });
    },
    OUTAGE_MS + 120_000,
  );
});
