import { describe, expect, it } from 'vitest';
import { chipCommands as C, buildCommandApdu } from '../../card/index.js';
import { CardRemovedError, ChipTerminal, InProcessCard, mapPcscError, NoCardError, NoReaderError, ReaderGoneError, UnknownCardError } from '../../edge/card-reader/index.js';
import { blankCard, primaryIssue, STORE_KEYS, storeTerminal } from './card-fixture.js';
import { definePurseSuite } from './purse-suite.js';

definePurseSuite('the in-process transport', async () => {
  const card = new InProcessCard(blankCard());
  return {
    transport: card,
    pullDuring: (ins) => card.pullDuring(ins),
    reinsert: async () => card.insert(),
    state: () => card.state,
  };
});

describe('transport-level status words', () => {
  it('follows 6Cxx (wrong Le) and 61xx (GET RESPONSE)', async () => {
    const card = new InProcessCard(blankCard());
    await primaryIssue(card);
    const store = storeTerminal(card);
    await store.select();
    const raw = async (apdu: Uint8Array) => card.transmit(apdu);
    const shortLe = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 1, le: 4 });
    expect(Buffer.from(await raw(shortLe)).toString('hex')).toBe('6c18');
    const noLe = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 1 });
    expect(Buffer.from(await raw(noLe)).toString('hex')).toBe('6118');
    // The terminal's exchange hides both.
    expect((await store.transmit(shortLe)).data.length).toBe(C.SYSTEM_INFO_LENGTH);
    expect((await store.transmit(noLe)).data.length).toBe(C.SYSTEM_INFO_LENGTH);
  });

  it('refuses a card of another key generation as unknown', async () => {
    const card = new InProcessCard(blankCard());
    await primaryIssue(card);
    const store = new ChipTerminal(card, { keys: { ...STORE_KEYS, keyVersion: 9 }, terminalName: 'pos-9' });
    await store.select();
    await expect(store.authenticate()).rejects.toThrow(UnknownCardError);
  });

  it('reports a card without the purse application as unknown', async () => {
    const foreignCard = { transmit: async () => Uint8Array.of(0x6a, 0x82) };
    await expect(storeTerminal(foreignCard).select()).rejects.toThrow(/does not carry the cardsys purse application/);
    await expect(storeTerminal(foreignCard).select()).rejects.toBeInstanceOf(UnknownCardError);
  });
});

describe('PC/SC error mapping', () => {
  it.each([
    ['SCardTransmit error: Card was removed.(0x80100069)', CardRemovedError],
    ['SCardConnect error: No smart card inserted.(0x8010000c)', NoCardError],
    ['SCardTransmit error: Unknown reader specified.(0x80100009)', ReaderGoneError],
    ['SCardConnect error: Reader unavailable.(0x80100017)', ReaderGoneError],
    ['SCardEstablishContext error: Service not available.(0x8010001d)', NoReaderError],
  ])('%s → %o', (message, type) => {
    const error = mapPcscError(new Error(message), 'Virtual PCD 00 00');
    expect(error).toBeInstanceOf(type);
    expect(error.message).toMatch(/Virtual PCD 00 00|pcscd/);
  });
});
