import { describe, expect, it } from 'vitest';
import {
  buildCommandApdu,
  chipCommands as C,
  concat,
  deriveSessionKeys,
  parseResponseApdu,
  protectCommand,
  terminalCryptogram,
  unprotectResponse,
} from '../../card/index.js';
import {
  CardRemovedError,
  ChipTerminal,
  InProcessCard,
  mapPcscError,
  NoCardError,
  NoReaderError,
  ReaderGoneError,
  UnknownCardError,
} from '../../reader/index.js';
import { blankCard, ISSUER, load, primaryIssue, STORE_KEYS, storeTerminal } from './card-fixture.js';
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

describe('secure messaging on the chip', () => {
  it('refuses a replayed or altered protected command with 6988 and ends the session', async () => {
    const card = new InProcessCard(blankCard());
    await primaryIssue(card);
    const sent: Uint8Array[] = [];
    const wire = {
      transmit: async (apdu: Uint8Array) => {
        sent.push(apdu);
        return card.transmit(apdu);
      },
    };
    const store = storeTerminal(wire);
    await load(store, 1000);
    await store.debit({ amount: 100 });
    const debitApdu = sent.at(-1)!;
    expect(Buffer.from(await card.transmit(debitApdu)).toString('hex')).toBe('6988');
    // The session is gone: even a correctly formed command of the old session is refused.
    expect(Buffer.from(await card.transmit(debitApdu)).toString('hex')).toBe('6982');

    await store.authenticate();
    const altered = Uint8Array.from(debitApdu);
    altered[6]! ^= 0x01;
    expect(Buffer.from(await card.transmit(altered)).toString('hex')).toBe('6988');
    await store.select();
    await store.authenticate();
    expect((await store.readBalance()).balance).toBe(900);
  });

  it('lets a transport-key session do nothing but initialise', async () => {
    const card = new InProcessCard(blankCard());
    const send = async (apdu: Uint8Array) => parseResponseApdu(await card.transmit(apdu));
    await send(buildCommandApdu({ cla: 0, ins: C.INS.SELECT, p1: 4, p2: 0, data: C.AID }));
    const rndCard = (await send(buildCommandApdu({ cla: 0, ins: C.INS.GET_CHALLENGE, p1: 0, p2: 0, le: 16 }))).data;
    const rndTerminal = new Uint8Array(16).fill(7);
    const key = ISSUER.transport;
    const auth = await send(
      buildCommandApdu({
        cla: 0x80,
        ins: C.INS.MUTUAL_AUTHENTICATE,
        p1: 0,
        p2: C.KEY_REF.TRANSPORT,
        data: concat(rndTerminal, terminalCryptogram(key, rndTerminal, rndCard)),
        le: 16,
      }),
    );
    expect(auth.sw).toBe(0x9000);
    const keys = deriveSessionKeys(key, rndTerminal, rndCard);
    const debit = { cla: 0x84, ins: C.INS.DEBIT, p1: 0, p2: 0, data: new Uint8Array(16) };
    const sealed = protectCommand(keys, debit);
    const answer = await send(buildCommandApdu({ ...debit, data: sealed.data, le: 256 }));
    expect(answer.sw).toBe(0x6982);
    // The refusal itself is protected: it verifies under the session keys.
    expect(unprotectResponse(sealed.keys, answer.data, answer.sw)).toBeDefined();
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
