// Attack 2 of the trust model: a store signs head office's facts (a bank account with a fortune, a
// stolen card reinstated) into its own chain. Head office's ingest refuses the batch whole, says so
// in its log and on the store's sync view, and nothing of it becomes anyone's fact; one stored by
// other means is passed over by head office and named by the auditor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSigningKey, subjects, type SigningKey } from '../../contracts/index.js';
import { eventStoreSource, KeyRing, replayAndVerify } from '../../audit/index.js';
import { originStreamName } from '../../eventstore/index.js';
import { tokenFor } from '../../host/api/index.js';
import { registerStore } from '../../host/hq-writer/index.js';
import { startHost, type HostNode } from '../../host/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { capturingLogger } from '../../testkit/backbone.js';
import { EnvelopeChain } from '../support/envelope-chain.js';
import { pursePaid } from '../support/host-events.js';

describe('a store writing head office event types', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-event-writers-'));
  const log = capturingLogger();
  let nats: NatsServer;
  let host: HostNode;
  let nc: NatsConnection;
  let storeKey: SigningKey;
  let operator: string;

  beforeAll(async () => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    host = await startHost({ dataDir: join(dir, 'hq'), natsUrl: nats.url, http: { host: '127.0.0.1', port: 0 }, logger: log.logger });
    nc = await connect({ servers: nats.url });
    storeKey = generateSigningKey();
    await registerStore(host.hqWriter, { storeId: 'A', name: 'Shop A', publicKey: storeKey.publicKey });
    operator = await tokenFor(join(dir, 'hq'), 'operator');
  });
  afterAll(async () => {
    await nc?.close();
    await host?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const sync = async () =>
    (await (await fetch(`${host.url}/v1/stores/A/sync`, { headers: { authorization: `Bearer ${operator}` } })).json()) as Record<
      string,
      any
    >;

  it('refuses the whole batch, logs store, sequence and type, shows it on the sync view, and creates no balance', async () => {
    const chain = new EnvelopeChain('A');
    const honest = chain.batch([pursePaid('c1', 'A', 500, 9_500)], storeKey);
    await jetstream(nc).publish(subjects.events('A'), honest.bytes, { msgID: 'A:1-1' });
    await expect.poll(async () => (await sync()).lastSeqReceived, { timeout: 20_000 }).toBe(1);

    const forged = chain.batch(
      [pursePaid('c1', 'A', 500, 9_000), { type: 'BankAccountOpened', data: { bankId: '00011231234567', balance: 999_999_999 } }],
      storeKey,
    );
    await jetstream(nc).publish(subjects.events('A'), forged.bytes, { msgID: 'A:2-3' });

    await expect
      .poll(async () => (await sync()).refusal, { timeout: 20_000 })
      .toMatchObject({
        eventType: 'BankAccountOpened',
        resendFrom: 2,
        reason: expect.stringContaining('a store may not write that event type'),
      });
    expect(log.lines.some((line) => /refused batch .* of store A .*sequence 3 is a BankAccountOpened/.test(line))).toBe(true);
    // Refused whole: not even the honest pay in the same batch is stored.
    expect((await sync()).lastSeqReceived).toBe(1);
    expect((await host.store.readStream(originStreamName('A'))).map((record) => record.type)).not.toContain('BankAccountOpened');
    const account = await fetch(`${host.url}/v1/bank-accounts/00011231234567`, {
      headers: { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), 'bank-feed')}` },
    });
    expect(account.status).toBe(404);
  });

  it('passes over a head-office fact stored in a store stream by other means, and the audit names it', async () => {
    // As if written into the event store directly, past ingest.
    const smuggled = new EnvelopeChain('A').next({ type: 'BankAccountOpened', data: { bankId: '00022232345678', balance: 999_999_999 } });
    await host.store.appendToStream(originStreamName('A'), [smuggled.record]);
    await host.runner.waitForPosition((await host.store.headPosition())!);
    const account = await fetch(`${host.url}/v1/bank-accounts/00022232345678`, {
      headers: { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), 'bank-feed')}` },
    });
    expect(account.status).toBe(404);

    const source = eventStoreSource(host.store);
    const keys = new KeyRing();
    for (const key of await source.registeredKeys()) keys.add(key);
    const result = await replayAndVerify({ source, keys, fromGenesis: true });
    expect(result.findings).toContainEqual(
      expect.objectContaining({ check: 'event.writer', store: 'A', eventId: smuggled.envelope.eventId }),
    );
  });
});
