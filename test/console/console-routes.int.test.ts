// The console's routes on a running head office: the overview with each store's liveness (heard
// from its heartbeat, silent after a while), the activity read model behind the charts and the
// store page, and an operator resolving a purse alert with a note recorded in head office's chain.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeEnvelope, decodeEvent, generateSigningKey, subjects } from '../../contracts/index.js';
import type { Role } from '../../host/api/index.js';
import { tokenFor } from '../../host/api/index.js';
import { registerStore } from '../../host/hq-writer/index.js';
import { type HostNode, startHost } from '../../host/index.js';
import { type NatsServer, startNatsServer } from '../../infra/nats/index.js';
import { EnvelopeChain } from '../support/envelope-chain.js';
import { cardIssued, purseLoaded, pursePaid } from '../support/host-events.js';

const OFFLINE_AFTER_MS = 1_000;
const CARD = 'c0ffee0000000009';
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

describe("head office's console routes", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-console-routes-'));
  let nats: NatsServer;
  let host: HostNode;
  let nc: NatsConnection;

  const call = async (role: Role, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${host.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await tokenFor(join(dir, 'hq'), role, `${role}-1`)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  beforeAll(async () => {
    nats = await startNatsServer({ dataDir: join(dir, 'nats') });
    host = await startHost({
      dataDir: join(dir, 'hq'),
      natsUrl: nats.url,
      http: { host: '127.0.0.1', port: 0 },
      storeOfflineAfterMs: OFFLINE_AFTER_MS,
      logger: quiet,
    });
    nc = await connect({ servers: nats.url, inboxPrefix: '_INBOX_S1' });
    const storeKey = generateSigningKey();
    await registerStore(host.hqWriter, { storeId: 'S1', name: 'Shop 1', publicKey: storeKey.publicKey });
    // Movements without a valid card MAC: the purse ledger raises an alert for each.
    const chain = new EnvelopeChain('S1');
    const batch = chain.batch(
      [cardIssued(CARD, 'u9', 'S1'), purseLoaded(CARD, 'S1', 10_000, 10_000), pursePaid(CARD, 'S1', 2_500, 7_500)],
      storeKey,
      {
        localHeadSeq: 4,
      },
    );
    await jetstream(nc).publish(subjects.events('S1'), batch.bytes, { msgID: 'S1:1-3' });
    const deadline = Date.now() + 20_000;
    while ((await call('viewer', 'GET', '/v1/stores/S1/sync')).body.lastSeqReceived !== 3) {
      if (Date.now() > deadline) throw new Error("head office did not store S1's batch");
      await new Promise((settle) => setTimeout(settle, 100));
    }
    await host.runner.waitForPosition((await host.store.headPosition())!);
  });
  afterAll(async () => {
    await nc?.close();
    await host?.stop();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows a store heard from as online, behind by what it said it holds, and offline once it falls silent', async () => {
    await nc.request(subjects.sync('S1'), new Uint8Array(0), { timeout: 5_000 });
    const heard = (await call('viewer', 'GET', '/v1/overview')).body;
    expect(heard.stores).toEqual([
      expect.objectContaining({
        storeId: 'S1',
        name: 'Shop 1',
        state: 'behind',
        online: true,
        lastSeqReceived: 3,
        localHeadSeq: 4,
        eventsBehind: 1,
      }),
    ]);
    expect(heard.today).toMatchObject({ issuances: { count: 1 }, loads: { count: 1, total: 10_000 }, pays: { count: 1, total: 2_500 } });
    expect(heard.alerts.open).toBeGreaterThan(0);
    await expect
      .poll(async () => (await call('viewer', 'GET', '/v1/overview')).body.stores[0], { timeout: 5_000, interval: 100 })
      .toMatchObject({ state: 'offline', online: false, silentForMs: expect.any(Number) });
  });

  it('feeds the overview as server-sent events: at once, then again when a store is heard from', async () => {
    const response = await fetch(`${host.url}/v1/overview/stream`, {
      headers: { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), 'operator')}` },
    });
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    const nextEvent = async () => {
      for (;;) {
        const end = text.indexOf('\n\n');
        if (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          if (block.startsWith('data: ')) return JSON.parse(block.slice(6));
          continue;
        }
        text += (await reader.read()).value ?? '';
      }
    };
    expect((await nextEvent()).stores[0]).toMatchObject({ storeId: 'S1', state: 'offline' });
    await nc.request(subjects.sync('S1'), new Uint8Array(0), { timeout: 5_000 });
    expect((await nextEvent()).stores[0]).toMatchObject({ storeId: 'S1', online: true });
    await reader.cancel();
  });

  it("serves the store page's sync history, terminals and takings, and the charts' activity", async () => {
    const page = (await call('viewer', 'GET', '/v1/stores/S1/activity')).body;
    expect(page.batches).toEqual([expect.objectContaining({ seq: 3, events: 3, eventsBehind: 1, lagMs: expect.any(Number) })]);
    expect(page.terminals).toEqual([expect.objectContaining({ terminalId: 'pos-1', events: 3 })]);
    expect(page.today).toMatchObject({ loads: { count: 1, total: 10_000 }, pays: { count: 1, total: 2_500 } });
    expect(page.backlog).toEqual({ users: 0, cards: 0, userIds: [] });
    expect((await call('viewer', 'GET', '/v1/stores/S9/activity')).status).toBe(404);
    const activity = (await call('viewer', 'GET', '/v1/activity')).body;
    expect(activity.eventsPerMinute.reduce((sum: number, row: { events: number }) => sum + row.events, 0)).toBe(3);
    expect(activity.perHour.map((row: { kind: string; count: number }) => `${row.kind} ${row.count}`).sort()).toEqual([
      'issuance 1',
      'load 1',
      'pay 1',
    ]);
  });

  it("gives a card's timeline without its bank account, to every reading role", async () => {
    const { body } = await call('viewer', 'GET', `/v1/cards/${CARD}/timeline`);
    expect(body.entries.map((entry: { type: string; amount: number | null }) => `${entry.type} ${entry.amount}`)).toEqual([
      'CardIssued null',
      'PurseLoaded 10000',
      'PursePaid 2500',
    ]);
    expect(JSON.stringify(body)).not.toContain('00011231234567');
    expect(body.alerts.length).toBeGreaterThan(0);
  });

  it('lets an operator resolve an alert with a note, recorded as AlertResolved in hq; once', async () => {
    const [alert] = (await call('operator', 'GET', `/v1/alerts?cardId=${CARD}`)).body.alerts;
    expect(alert).toMatchObject({ resolved: false, resolution: null });
    const resolved = await call('operator', 'POST', `/v1/alerts/${alert.alertId}/resolution`, { note: 'test movements, no real card' });
    expect(resolved).toMatchObject({ status: 201, body: { alertId: alert.alertId, resolved: true, resolvedBy: 'operator-1' } });
    const events = (await host.store.readStream('hq')).flatMap((record) => {
      if (record.type !== 'AlertResolved') return [];
      const envelope = decodeEnvelope(record.data);
      return [decodeEvent(envelope.eventType, envelope.payload).data];
    });
    expect(events).toEqual([
      expect.objectContaining({
        alertId: alert.alertId,
        cardId: CARD,
        raisedByEventId: alert.eventId,
        note: 'test movements, no real card',
      }),
    ]);
    await host.runner.waitForPosition((await host.store.headPosition())!);
    const after = (await call('operator', 'GET', `/v1/alerts?cardId=${CARD}`)).body.alerts.find(
      (a: { alertId: number }) => a.alertId === alert.alertId,
    );
    expect(after).toMatchObject({ resolved: true, resolution: { note: 'test movements, no real card', by: 'operator-1' } });
    expect((await call('operator', 'POST', `/v1/alerts/${alert.alertId}/resolution`, { note: 'again' })).body).toMatchObject({
      error: 'already_resolved',
    });
    expect((await call('operator', 'POST', '/v1/alerts/9999/resolution', { note: 'none' })).status).toBe(404);
    expect((await call('operator', 'POST', `/v1/alerts/${alert.alertId}/resolution`, { note: '' })).status).toBe(400);
  });

  it('counts on GET /metrics what the ingest stored, the alerts open and the API answered', async () => {
    const scraped = await (await fetch(`${host.url}/metrics`)).text();
    expect(scraped).toMatch(/^cardsys_ingest_events_total\{store="S1"\} 3$/m);
    expect(scraped).toMatch(/^cardsys_store_ack_latency_seconds_count 1$/m);
    expect(scraped).toMatch(/^cardsys_ingest_lag_seconds_count 1$/m);
    expect(scraped).toMatch(/^cardsys_projection_lag_events \d+$/m);
    expect(scraped).toMatch(/^cardsys_open_load_authorisations 0$/m);
    expect(scraped).toMatch(/^cardsys_alerts_open\{kind="[a-z_]+",severity="[a-z]+"\} [1-9]/m);
    expect(scraped).toMatch(/^cardsys_nats_reconnects\{part="ingest"\} 0$/m);
    const overviews = /^cardsys_api_request_duration_seconds_count\{method="GET",route="\/v1\/overview",status="200"\} (\d+)$/m;
    expect(Number(overviews.exec(scraped)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('finds cards by user for every role, and by bank account only for roles that see personal data', async () => {
    expect((await call('operator', 'GET', '/v1/cards?userId=u9')).body).toEqual({
      cards: [{ cardId: CARD, userId: 'u9', blacklisted: false, issuedAtStore: 'S1' }],
    });
    expect((await call('operator', 'GET', '/v1/cards?bankId=00011231234567')).status).toBe(403);
    expect((await call('auditor', 'GET', '/v1/cards?bankId=00011231234567')).status).toBe(200);
    expect((await call('viewer', 'GET', '/v1/cards')).status).toBe(400);
  });
});
