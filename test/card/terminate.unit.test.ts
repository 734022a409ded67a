import { describe, expect, it } from 'vitest';
import {
  authoriseCredit,
  authoriseTermination,
  buildCommandApdu,
  chipCommands as C,
  newAuthorisationId,
  SW,
  verifyCardMac,
} from '../../card/index.js';
import { InProcessCard } from '../../reader/index.js';
import { blankCard, ISSUER, load, PERSONAL, BANK, primaryIssue, statusOf, storeTerminal } from './card-fixture.js';

/** An issued, personalised card holding `balance` yen, with a store terminal authenticated to it. */
async function cardHolding(balance: number) {
  const card = new InProcessCard(blankCard());
  const cardId = await primaryIssue(card);
  const store = storeTerminal(card);
  await store.select();
  await store.authenticate();
  await store.personalise(PERSONAL, BANK);
  if (balance > 0) await load(store, balance);
  await store.select();
  await store.readInfo();
  await store.authenticate();
  return { card, cardId, store };
}

describe('TERMINATE CARD USAGE (84 E6)', () => {
  it('given head office consent at the counter, empties the purse into one MACed unload and terminates the card', async () => {
    const { card, cardId, store } = await cardHolding(7_500);
    const { counter } = await store.readBalance();
    const receipt = await store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: counter }) });
    expect(receipt).toMatchObject({ operation: 'unload', cardId, amount: 7_500, newBalance: 0, counter: counter + 1 });
    expect(verifyCardMac(ISSUER, receipt)).toBe(true);
    // The unload's MAC is not a debit's: a store cannot pass one off as the other.
    expect(verifyCardMac(ISSUER, { ...receipt, operation: 'debit' })).toBe(false);
    expect(card.state).toMatchObject({ lifecycle: 'terminated', issued: { balance: 0, counter: counter + 1 } });
    expect((await store.readInfo()).lifecycle).toBe('terminated');
  });

  it('refuses a forged termination MAC (6300) and one for another counter, and leaves the card as it was', async () => {
    const { card, cardId, store } = await cardHolding(3_000);
    const before = card.state;
    expect(await statusOf(store.terminate({ terminationMac: '00'.repeat(8) }))).toBe('6300');
    await store.authenticate();
    expect(await statusOf(store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: 0 }) }))).toBe('6300');
    // A credit authorisation MAC for the same card and counter is no termination MAC (its own label).
    await store.authenticate();
    const creditMac = authoriseCredit(ISSUER, { cardId, cardCounter: 1, amount: 0, authorisationId: '00'.repeat(8) });
    expect(await statusOf(store.terminate({ terminationMac: creditMac }))).toBe('6300');
    expect(card.state).toBe(before);
  });

  it('needs a terminal session (6982 in plain) and the exact data length (6700)', async () => {
    const { cardId, store } = await cardHolding(0);
    const plain = buildCommandApdu({ cla: 0x80, ins: C.INS.TERMINATE, p1: 0, p2: 0, data: new Uint8Array(20) });
    expect((await store.transmit(plain)).sw).toBe(SW.SECURITY_STATUS_NOT_SATISFIED);
    await store.authenticate();
    const receipt = await store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: 0 }) });
    // An empty purse is terminated too: a record of 0 yen at counter 1.
    expect(receipt).toMatchObject({ amount: 0, counter: 1 });
  });

  it('given a terminated card, every command but SELECT and GET DATA answers 6285, and nothing leaves the state', async () => {
    const { card, cardId, store } = await cardHolding(2_000);
    await store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: 1 }) });
    const terminated = card.state;
    await store.select();
    expect((await store.readInfo()).lifecycle).toBe('terminated');
    const commands = [
      buildCommandApdu({ cla: 0x00, ins: C.INS.GET_CHALLENGE, p1: 0, p2: 0, le: 16 }),
      buildCommandApdu({ cla: 0x80, ins: C.INS.MUTUAL_AUTHENTICATE, p1: 0, p2: 1, data: new Uint8Array(32), le: 16 }),
      ...[
        C.INS.GET_BALANCE,
        C.INS.READ_DATA,
        C.INS.READ_RECORD,
        C.INS.VERIFY_PIN,
        C.INS.PERSONALISE,
        C.INS.CREDIT,
        C.INS.DEBIT,
        C.INS.TERMINATE,
      ].map((ins) => buildCommandApdu({ cla: 0x84, ins, p1: 0, p2: 0, data: new Uint8Array(24), le: 256 })),
      buildCommandApdu({ cla: 0x84, ins: C.INS.INITIALISE, p1: 0, p2: 0, data: new Uint8Array(16), le: 256 }),
    ];
    for (const apdu of commands) expect((await store.transmit(apdu)).sw.toString(16)).toBe('6285');
    expect(await statusOf(store.authenticate())).toBe('6285');
    expect(card.state).toBe(terminated);
    // The terminal's own check names the state.
    expect((await store.checkValidity()).problems).toEqual(['card is terminated (returned or replaced)']);
  });

  it('keeps its unload for GET DATA 00 03, so a terminal that lost the answer can show the card MAC', async () => {
    const { card, cardId, store } = await cardHolding(4_200);
    const recordApdu = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: C.DATA_OBJECT.TERMINATION_RECORD, le: 256 });
    expect((await store.transmit(recordApdu)).sw).toBe(SW.REFERENCED_DATA_NOT_FOUND);
    const receipt = await store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: 1 }) });
    // Another terminal, another day: no session, only the plain GET DATA.
    const reader = storeTerminal(new InProcessCard(card.state), 'store-002/pos-1');
    await reader.select();
    const record = await reader.readTerminationRecord();
    expect(record).toMatchObject({ operation: 'unload', amount: 4_200, counter: receipt.counter, balanceAfter: 0, mac: receipt.mac });
    expect(record.terminalId).toBe(receipt.terminalId);
  });

  it('a card pulled during the command keeps its purse and takes the same consent again', async () => {
    const { card, cardId, store } = await cardHolding(1_000);
    const terminationMac = authoriseTermination(ISSUER, { cardId, cardCounter: 1 });
    card.pullDuring(C.INS.TERMINATE);
    await expect(store.terminate({ terminationMac })).rejects.toThrow();
    card.insert();
    expect(card.state.lifecycle).toBe('secondary-issued');
    await store.select();
    await store.authenticate();
    expect((await store.terminate({ terminationMac })).amount).toBe(1_000);
  });

  it('a credit authorised before the termination cannot reach the card after it', async () => {
    const { card, cardId, store } = await cardHolding(500);
    const authorisationId = newAuthorisationId();
    const authorisationMac = authoriseCredit(ISSUER, { cardId, cardCounter: 1, amount: 1_000, authorisationId });
    await store.terminate({ terminationMac: authoriseTermination(ISSUER, { cardId, cardCounter: 1 }) });
    expect(await statusOf(store.credit({ amount: 1_000, authorisationId, authorisationMac }))).toBe('6285');
    expect(card.state.issued?.balance).toBe(0);
  });
});
