// Settlement believes the chip, not the store. A load reached the chip (its answer lost, the card
// pulled), so the chip holds the money while head office holds an open authorisation. The store then
// lies to head office with its own real credentials: "the card did not take the credit", "the card
// moved on", a forged usage log. Each lie is refused, raises an alert naming the store, and the bank
// account is not refunded; the card's next insertion records the credit from the chip. Real parts:
// the deployment as provisioned (hub, head office over HTTP, store broker over TLS), `cardsys edge`
// with a PC/SC reader, the virtual card behind pcscd + vpcd.
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands, terminalKeysOf } from '../../card/index.js';
import { pb, subjects, type cardsys } from '../../contracts/index.js';
import { chipLogMessage } from '../../edge/purse/index.js';
import { storeNatsOptions } from '../../host/provisioning/index.js';
import { ChipTerminal, type LogRecord } from '../../reader/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { startCounterDeployment, until, type CounterDeployment } from '../support/counter-processes.js';

let counters: CounterDeployment;
let liar: NatsConnection;
let cardId: string;
let bankId: string;
let card: SlotCard;
let authorizationId: string;

/** Store A's node, with its own credentials, asking head office directly. */
async function ask(request: cardsys.v1.InquiryRequest.$Properties): Promise<cardsys.v1.InquiryReply> {
  const message = await liar.request(
    subjects.inquiry('A'),
    pb.InquiryRequest.encode({ storeId: 'A', terminalId: 'A/pos-1', ...request }).finish(),
    {
      timeout: 10_000,
    },
  );
  return pb.InquiryReply.decode(message.data);
}

const accountBalance = async () => (await counters.api('bank-feed', 'GET', `/v1/bank-accounts/${bankId}`)).json.balance as number;
const claimAlerts = async () =>
  ((await counters.api('operator', 'GET', `/v1/alerts?cardId=${cardId}`)).json.alerts as Array<{ kind: string; message: string }>).filter(
    (alert) => alert.kind === 'store_claim_refused',
  );

/** The chip's usage log as a store terminal reads it (under a terminal session). */
async function chipLog(): Promise<LogRecord[]> {
  await card.connect();
  try {
    const terminal = new ChipTerminal(card.transport, { keys: terminalKeysOf(counters.issuer), terminalName: 'A/pos-1' });
    await terminal.checkValidity();
    return await terminal.readLog();
  } finally {
    await card.disconnect();
  }
}

beforeAll(async () => {
  counters = await startCounterDeployment(['A']);
  ({ cardId, bankId, card } = await counters.userWithCard('3300001', { opening: 50_000 }));
  const edge = await counters.startEdge('A');
  // The load reaches the chip, and its answer never comes back: the card is pulled.
  card.card.loseAnswerTo(chipCommands.INS.CREDIT);
  const credited = new Promise<void>((resolve) => card.card.once('answer-lost', () => resolve()));
  const load = counters.command('A', { load: { amount: 10_000, pin: '1234' } });
  await credited;
  await card.remove();
  expect(await load).toMatchObject({ ok: false });
  await edge.stop();
  await card.insert();
  await card.disconnect();
  expect(card.state().issued).toMatchObject({ balance: 10_000, counter: 1 });
  const started = await until(async () => {
    const found = (await counters.storeEvents('A')).find(({ event }) => event.type === 'PurseCreditStarted');
    return found?.event.type === 'PurseCreditStarted' ? found.event.data.authorizationId : undefined;
  }, 'PurseCreditStarted at head office');
  authorizationId = started;
  expect(await accountBalance()).toBe(40_000);
  liar = await counters.deployment.connect(counters.deployment.hub.url, {
    ...storeNatsOptions(counters.deployment.bundleDir('A'), 'store'),
    inboxPrefix: subjects.inbox('A'),
  });
}, 180_000);

afterAll(async () => {
  await counters?.close();
});

describe('a store that lies at settlement', () => {
  it('"the card did not take the credit": a release after the credit was sent is refused, without and with a log that hides it', async () => {
    const bare = await ask({ release: { authorizationId, reason: 'credit not made' } });
    expect(bare).toMatchObject({ ok: false, code: 'release_refused', message: expect.stringContaining('store A asks to release') });
    // A log showing the chip still at counter 0: nothing MACed says so.
    const hidden = await ask({
      release: { authorizationId, reason: 'credit not made', chip: { cardCounter: 0, logCoversFromCounter: 1 } },
    });
    expect(hidden).toMatchObject({ ok: false, code: 'release_refused' });
    // The chip's real log, its credit at counter 1: the lie is plain.
    const log = await chipLog();
    const shown = await ask({
      release: { authorizationId, chip: chipLogMessage(1, log) },
    });
    expect(shown).toMatchObject({
      ok: false,
      code: 'release_refused',
      message: expect.stringContaining("the chip's log shows it at counter 1"),
    });
    expect(await accountBalance()).toBe(40_000);
  });

  it('"the card moved on": a chip past the counter without its record there is refused', async () => {
    const reply = await ask({ pending: { cardId, cardCounter: 2, logRead: true, logCoversFromCounter: 1 } });
    expect(reply).toMatchObject({ ok: true, code: 'settled', pending: [{ action: 'open' }] });
    expect(await accountBalance()).toBe(40_000);
  });

  it('a forged log: a debit at the counter with a made-up card MAC is refused whole', async () => {
    const forged = {
      amount: 1,
      cardCounter: 1,
      newBalance: 0,
      cardMac: new Uint8Array(8).fill(0x42),
      atMs: Date.now(),
      terminalId: new Uint8Array(8),
    };
    const reply = await ask({ pending: { cardId, cardCounter: 1, logRead: true, logCoversFromCounter: 1, debits: [forged] } });
    expect(reply).toMatchObject({ ok: false, code: 'forged_log', message: expect.stringContaining('card MAC fails at counter(s) 1') });
    expect(await accountBalance()).toBe(40_000);
  });

  it('each lie raised an alert naming the store; the card at the counter then records the credit, and the account stays debited', async () => {
    const alerts = await until(async () => {
      const found = await claimAlerts();
      return found.length >= 5 ? found : undefined;
    }, 'the refused claims as alerts');
    expect(alerts.every((alert) => alert.message.includes('store A'))).toBe(true);
    expect(alerts.map((alert) => alert.message)).toEqual(
      expect.arrayContaining([
        expect.stringContaining('asks to release'),
        expect.stringContaining("but the chip's log shows it"),
        expect.stringContaining('says the card moved past counter 0'),
        expect.stringContaining('card MAC fails'),
      ]),
    );

    const edge = await counters.startEdge('A');
    const read = await counters.command('A', { read: {} });
    expect(read).toMatchObject({ ok: true, balance: 10_000, message: expect.stringContaining('found on the card and recorded') });
    const view = await until(async () => {
      const { json } = await counters.api('operator', 'GET', `/v1/cards/${cardId}/purse`);
      return json.purse?.counter === 1 ? json : undefined;
    }, "head office's purse view to follow the chip");
    expect(view.purse).toMatchObject({ balance: 10_000, counter: 1 });
    expect(await accountBalance()).toBe(40_000);
    const loads = (await counters.api('operator', 'GET', '/v1/loads')).json.loads as Array<{ authorizationId: string; state: string }>;
    expect(loads.find((load) => load.authorizationId === authorizationId)?.state).not.toBe('reversed');
    await edge.stop();
  }, 120_000);
});
