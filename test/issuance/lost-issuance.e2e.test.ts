// An issuance is never left unrecorded: the chip committed PERSONALISE, and CardIssued never reached
// the store's log (the card was pulled, or the edge process died, before the chip's answer came
// back). The next insertion, at that store or any other, records CardIssued (recovered) from the
// data on the chip, once, and head office's user DB shows the card issued. Real parts: the
// deployment as provisioned (hub, head office over HTTP, store brokers over TLS), `cardsys edge`
// processes with a PC/SC reader, the virtual card behind pcscd + vpcd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import type { SlotCard } from '../../testkit/pcsc-rig.js';
import { startCounterDeployment, until, type CounterDeployment } from '../support/counter-processes.js';

let counters: CounterDeployment;

/** Waits for the chip to commit the next PERSONALISE and withhold its answer. */
function answerLostToPersonalise(card: SlotCard): Promise<void> {
  card.card.loseAnswerTo(chipCommands.INS.PERSONALISE);
  return new Promise((resolve) => card.card.once('answer-lost', () => resolve()));
}

/** Pulls the card and puts it back; the test keeps no connection to it. */
async function reinsert(card: SlotCard): Promise<void> {
  await card.remove();
  await card.insert();
  await card.disconnect();
}

async function cardIssuedAtHeadOffice(cardId: string): Promise<Array<{ storeId: string; recovered: boolean }>> {
  const found: Array<{ storeId: string; recovered: boolean }> = [];
  for (const storeId of ['A', 'B']) {
    for (const { event } of await counters.storeEvents(storeId)) {
      if (event.type === 'CardIssued' && event.data.cardId === cardId) found.push({ storeId, recovered: event.data.recovered });
    }
  }
  return found;
}

/** The card's issuance as head office's user DB shows it, once it shows one. */
const issuanceAtHeadOffice = (cardId: string) =>
  until(async () => {
    const { json } = await counters.api('clerk', 'GET', `/v1/cards/${cardId}`);
    return json.issuance ? json : undefined;
  }, "the card's issuance in head office's user DB");

beforeAll(async () => {
  counters = await startCounterDeployment(['A', 'B']);
}, 120_000);

afterAll(async () => {
  await counters?.close();
});

describe('an issuance is never unrecorded', () => {
  it('card pulled after the chip took its data: the next insertion at the store records CardIssued (recovered), once', async () => {
    const { userId, cardId, card } = await counters.userWithCard('1100001');
    const edge = await counters.startEdge('A');
    const lost = answerLostToPersonalise(card);
    const first = counters.command('A', { issue: {} });
    await lost;
    await card.remove();
    expect(await first).toMatchObject({ ok: false });
    expect(card.state().lifecycle).toBe('secondary-issued');
    await card.insert();
    await card.disconnect();

    expect(await counters.command('A', { issue: {} })).toMatchObject({
      ok: true,
      code: 'issued',
      cardId,
      message: expect.stringContaining('recorded now'),
    });
    expect(await issuanceAtHeadOffice(cardId)).toMatchObject({
      cardId,
      userId,
      issuance: { storeId: 'A', recovered: true, recordMatchesUser: true },
    });
    expect((await counters.api('clerk', 'GET', `/v1/users/${userId}`)).json.cards).toMatchObject([{ cardId, issuance: { storeId: 'A' } }]);

    expect(await counters.command('A', { issue: {} })).toMatchObject({ ok: true, code: 'already_issued' });
    expect(await cardIssuedAtHeadOffice(cardId)).toEqual([{ storeId: 'A', recovered: true }]);
    await edge.stop();
  }, 120_000);

  it('edge process killed after the chip took its data: another store records it at the next insertion; the first store never runs the command again', async () => {
    const { cardId, card } = await counters.userWithCard('1100002');
    const edgeA = await counters.startEdge('A');
    const lost = answerLostToPersonalise(card);
    const first = counters.command('A', { issue: {} }, { commandId: 'crashed-issue', timeoutMs: 10_000 }).catch((error: Error) => error);
    await lost;
    await edgeA.crash();
    expect(await first).toBeInstanceOf(Error);
    await reinsert(card);
    expect(card.state().lifecycle).toBe('secondary-issued');

    // The customer takes the card to store B.
    const edgeB = await counters.startEdge('B');
    expect(await counters.command('B', { issue: {} })).toMatchObject({
      ok: true,
      code: 'issued',
      cardId,
      message: expect.stringContaining('recorded now'),
    });
    expect((await issuanceAtHeadOffice(cardId)).issuance).toMatchObject({ storeId: 'B', recovered: true, recordMatchesUser: true });
    await edgeB.stop();

    // Back at store A: the interrupted command is not run again, and the card is not recorded twice.
    const again = await counters.startEdge('A');
    expect(await counters.command('A', { issue: {} }, { commandId: 'crashed-issue' })).toMatchObject({ ok: false, code: 'interrupted' });
    expect(await counters.command('A', { issue: {} })).toMatchObject({ ok: true, code: 'already_issued' });
    expect(await cardIssuedAtHeadOffice(cardId)).toEqual([{ storeId: 'B', recovered: true }]);
    await again.stop();
  }, 180_000);
});
