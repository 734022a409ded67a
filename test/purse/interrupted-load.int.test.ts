import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chipCommands } from '../../card/index.js';
import { decodeEvent, pb } from '../../contracts/index.js';
import {
  chipPurse,
  issueCard,
  losingAnswerTo,
  startPurseWorld,
  until,
  type IssuedCard,
  type PurseWorld,
  type Store,
} from '../../testkit/purse-world.js';

const VALID_FOR_MS = 4_000;
const MARGIN_MS = 300;

function authorisationsOf(store: Store, cardId: string): string[] {
  return store.edge.log
    .read(1, store.edge.log.headSeq)
    .filter((e) => e.envelope.eventType === 'PurseCreditStarted' && e.envelope.streamId === `card-${cardId}`)
    .map((e) => (decodeEvent('PurseCreditStarted', e.envelope.payload).data as { authorizationId: string }).authorizationId);
}

describe('card pulled between the account debit and the card credit', () => {
  let world: PurseWorld;
  let s1: Store;
  let s2: Store;

  beforeAll(async () => {
    world = await startPurseWorld(['s1', 's2'], { validForMs: VALID_FOR_MS, marginMs: MARGIN_MS });
    s1 = await world.startStore('s1');
    s2 = await world.startStore('s2');
    await Promise.all([s1.edge.nats, s2.edge.nats]);
  });
  afterAll(async () => {
    await world?.close();
  });

  /** Money that left the account is on the card or was paid with it: never both, never neither. */
  function moneyConserved(issued: IssuedCard, opening: number, paid: number): void {
    expect(world.centre.accountBalance(issued.bankId)! + chipPurse(issued.card).balance + paid).toBe(opening);
  }

  it('pulled before the credit: a load at the next insertion, at another store, completes it', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    s1.readers.set('pos-1', issued.card);
    issued.card.pullDuring(chipCommands.INS.CREDIT);
    expect(await s1.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'card_removed' });
    expect(chipPurse(issued.card)).toEqual({ balance: 0, counter: 0 });
    expect(world.centre.accountBalance(issued.bankId)).toBe(15_000);
    const [first] = authorisationsOf(s1, issued.cardId);

    issued.card.insert();
    s2.readers.set('pos-1', issued.card);
    const reply = await s2.command({ load: { amount: 1_000, pin: '1234' } });
    expect(reply).toMatchObject({ ok: true, code: 'loaded', balance: 6_000 });
    await Promise.all([s1.replicated(), s2.replicated()]);
    await until(() => world.centre.authorisation(first!)?.status === 'completed', 'the first authorisation to complete');
    moneyConserved(issued, 20_000, 0);
    await world.catchUpLedger();
    expect(world.ledger.card(issued.cardId)).toMatchObject({ balance: 6_000, loads: { count: 2, total: 6_000 }, alerts: 0 });
  });

  it('pulled before the credit, card back only after the deadline: the money returns to the account, the card never gets it', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    s1.readers.set('pos-1', issued.card);
    issued.card.pullDuring(chipCommands.INS.CREDIT);
    expect(await s1.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'card_removed' });
    const [authorisation] = authorisationsOf(s1, issued.cardId);
    await s1.replicated();
    await new Promise((resolve) => setTimeout(resolve, VALID_FOR_MS + MARGIN_MS + 100));
    // The store sent the credit, so a timeout alone does not decide: only the chip can.
    expect(await world.centre.sweep()).toBe(0);
    expect(world.centre.authorisation(authorisation!)?.status).toBe('open');

    issued.card.insert();
    s2.readers.set('pos-1', issued.card);
    expect(await s2.command({ read: {} })).toMatchObject({ ok: true, balance: 0 });
    expect(world.centre.authorisation(authorisation!)).toMatchObject({ status: 'reversed', reversalReason: 'expired_at_card' });
    expect(world.centre.accountBalance(issued.bankId)).toBe(20_000);
    moneyConserved(issued, 20_000, 0);
  });

  it('credited but the answer lost: the next insertion finds the credit on the chip and records it, once', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    s1.readers.set('pos-1', losingAnswerTo(issued.card, chipCommands.INS.CREDIT));
    expect(await s1.command({ load: { amount: 5_000, pin: '1234' } })).toMatchObject({ ok: false, code: 'card_removed' });
    expect(chipPurse(issued.card)).toEqual({ balance: 5_000, counter: 1 });
    const [authorisation] = authorisationsOf(s1, issued.cardId);

    issued.card.insert();
    s2.readers.set('pos-1', issued.card);
    const read = await s2.command({ read: {} });
    expect(read).toMatchObject({ ok: true, balance: 5_000 });
    expect(read.message).toContain('found on the card and recorded');
    expect(world.centre.authorisation(authorisation!)?.status).toBe('completed');
    expect(await s2.command({ pay: { amount: 1_500 } })).toMatchObject({ ok: true, balance: 3_500 });
    await new Promise((resolve) => setTimeout(resolve, VALID_FOR_MS + MARGIN_MS + 100));
    expect(await world.centre.sweep()).toBe(0);
    moneyConserved(issued, 20_000, 1_500);

    await Promise.all([s1.replicated(), s2.replicated()]);
    await world.catchUpLedger();
    expect(world.ledger.card(issued.cardId)).toMatchObject({
      balance: 3_500,
      loads: { count: 1, total: 5_000 },
      pays: { count: 1, total: 1_500 },
      alerts: 0,
    });
  });

  it('authorised but the credit never started (the store lost the answer): reversed once the store is past the deadline', async () => {
    const issued = await issueCard(world, { opening: 20_000 });
    const request = pb.InquiryRequest.encode({
      storeId: 's1',
      terminalId: 'pos-1',
      authorise: { authorizationId: '00000000000000aa', cardId: issued.cardId, bankId: issued.bankId, amount: 4_000, cardCounter: 0 },
    }).finish();
    expect(await world.centre.inquire('s1', request)).toMatchObject({ ok: true, code: 'authorised' });
    expect(world.centre.accountBalance(issued.bankId)).toBe(16_000);
    await new Promise((resolve) => setTimeout(resolve, VALID_FOR_MS + MARGIN_MS + 100));
    // Head office has not yet heard from the store since the deadline: it waits.
    expect(await world.centre.sweep()).toBe(0);

    const other = await issueCard(world);
    s1.readers.set('pos-1', other.card);
    await s1.command({ pay: { amount: 1 } }); // any later event of the store will do
    await s1.replicated();
    await until(
      async () => (await world.centre.sweep()) === 1 || world.centre.authorisation('00000000000000aa')?.status === 'reversed',
      'the timeout reversal',
    );
    expect(world.centre.authorisation('00000000000000aa')).toMatchObject({ status: 'reversed', reversalReason: 'timeout' });
    expect(world.centre.accountBalance(issued.bankId)).toBe(20_000);
    moneyConserved(issued, 20_000, 0);
  });
});
