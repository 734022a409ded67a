// A pay whose edge died right after the chip committed the debit: the POS's retry with the same
// command id answers "interrupted"; the card's next insertion finds the debit and records it under
// that same command id and the terminal's own name; `cardsys pos status --command-id` tells the
// terminal what became of it. Real parts: the deployment as provisioned, `cardsys edge` killed with
// SIGKILL, a virtual card behind pcscd + vpcd, `cardsys pos` on the terminal's own credentials.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import { storeTerminalName } from '../../contracts/index.js';
import { startCounterDeployment, until, type CounterDeployment } from '../support/counter-processes.js';
import { cardsys } from '../support/cli.js';

let counters: CounterDeployment;

beforeAll(async () => {
  counters = await startCounterDeployment(['A']);
}, 120_000);

afterAll(async () => {
  await counters?.close();
});

describe('a pay recovered from the card, matched to the command that took the money', () => {
  it('edge killed after the debit: retry interrupted, next read recovers under the pay’s command id, pos status says so', async () => {
    const { cardId, card } = await counters.userWithCard('3300001', { opening: 50_000 });
    const edge = await counters.startEdge('A');
    expect(await counters.command('A', { load: { amount: 10_000, pin: '1234' } })).toMatchObject({ ok: true, balance: 10_000 });

    // The chip commits the debit and its answer never comes back; the edge is killed then.
    card.card.loseAnswerTo(chipCommands.INS.DEBIT);
    const debited = new Promise<void>((resolve) => card.card.once('answer-lost', () => resolve()));
    const lost = counters.command('A', { pay: { amount: 1_800 } }, { commandId: 'pay-killed', timeoutMs: 10_000 }).catch((e: Error) => e);
    await debited;
    await edge.crash();
    expect(await lost).toBeInstanceOf(Error);
    await card.remove();
    await card.insert();
    await card.disconnect();
    expect(card.state().issued).toMatchObject({ balance: 8_200, counter: 2 });

    const restarted = await counters.startEdge('A');
    expect(await counters.command('A', { pay: { amount: 1_800 } }, { commandId: 'pay-killed' })).toMatchObject({
      ok: false,
      code: 'interrupted',
    });
    const pos = ['--data', counters.deployment.root, '--store', 'A', '--nats', counters.brokerUrl('A'), '--json'];
    expect(cardsys(['pos', 'status', ...pos, '--command-id', 'pay-killed']).json()).toMatchObject({
      ok: true,
      code: 'interrupted',
      status: { commandId: 'pay-killed', kind: 'pay', state: 'interrupted' },
    });

    // The next insertion (a read) finds the debit in the chip's log and records it once.
    const read = await counters.command('A', { read: {} }, { commandId: 'read-after' });
    expect(read).toMatchObject({ ok: true, balance: 8_200, message: expect.stringContaining('earlier pay of ¥1,800 found on the card') });

    const recovered = await until(async () => {
      const pays = (await counters.storeEvents('A')).filter(({ event }) => event.type === 'PursePaid' && event.data.cardId === cardId);
      return pays.length > 0 ? pays : undefined;
    }, 'the recovered pay at head office');
    expect(recovered).toHaveLength(1);
    const [paid] = recovered;
    // Under the pay's command id, not the read's; the terminal as it names itself, not a hex digest.
    expect(paid!.envelope.commandId).toBe('pay-killed');
    expect(paid!.event).toMatchObject({
      type: 'PursePaid',
      data: { amount: 1_800, cardCounter: 2, recovered: true, terminalId: storeTerminalName('A', 'pos-1') },
    });

    const status = cardsys(['pos', 'status', ...pos, '--command-id', 'pay-killed']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({
      ok: true,
      code: 'recovered',
      cardId,
      eventId: paid!.envelope.eventId,
      status: { commandId: 'pay-killed', kind: 'pay', state: 'recovered', cardId, cardCounter: 2, amount: 1_800 },
    });
    const human = cardsys(['pos', 'status', ...pos.filter((arg) => arg !== '--json'), '--command-id', 'pay-killed']);
    expect(human.stdout).toMatch(/^ok \(recovered\): pay command pay-killed was interrupted; its pay of ¥1,800 was found on card/);
    const unknown = cardsys(['pos', 'status', ...pos, '--command-id', 'never-sent']);
    expect(unknown.code).toBe(2);
    expect(unknown.json()).toMatchObject({ ok: false, code: 'unknown', status: { state: 'unknown' } });

    // Head office's shadow balance follows the chip: the card's MAC verifies with the terminal's name.
    const view = await until(async () => {
      const { json } = await counters.api('operator', 'GET', `/v1/cards/${cardId}/purse`);
      return json.purse?.counter === 2 ? json : undefined;
    }, "head office's purse view of the card");
    expect(view).toMatchObject({ purse: { balance: 8_200, counter: 2 }, alerts: [] });
    await restarted.stop();
  }, 240_000);
});
