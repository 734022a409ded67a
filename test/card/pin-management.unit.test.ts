import { describe, expect, it } from 'vitest';
import {
  authoriseCredit,
  authorisePinUnblock,
  buildCommandApdu,
  chipCommands as C,
  generateIssuerMasterKeys,
  newAuthorisationId,
  type CardState,
} from '../../card/index.js';
import { InProcessCard } from '../../reader/index.js';
import { blankCard, ISSUER, PIN, primaryIssue, statusOf, storeTerminal } from './card-fixture.js';

// The chip's PIN management: PIN status (GET DATA 02), RESET RETRY COUNTER with head office's
// unblock MAC, CHANGE REFERENCE DATA with the old PIN; and that neither leaves a PIN verified.

/** An issued card with a store terminal holding a session on it. */
async function openCard(state?: (issued: CardState) => CardState) {
  const issuing = new InProcessCard(blankCard());
  const cardId = await primaryIssue(issuing);
  const card = new InProcessCard(state ? state(issuing.state) : issuing.state);
  const store = storeTerminal(card);
  await store.select();
  await store.authenticate();
  return { card, store, cardId };
}

type StoreTerminal = ReturnType<typeof storeTerminal>;

async function blockPin(store: StoreTerminal): Promise<void> {
  for (const wrong of ['6983', '6984', '6985']) await statusOf(store.verifyPin(wrong));
  expect((await store.readPinStatus()).triesLeft).toBe(0);
}

/** One command with a hand-made data field, under the terminal's secure-messaging session; its status word in hex. */
async function securedStatus(store: StoreTerminal, ins: number, p2: number, data: Uint8Array): Promise<string> {
  const secured = (store as unknown as { securedResponse: (...args: unknown[]) => Promise<{ sw: number }> }).securedResponse;
  return (await secured.call(store, 'raw', ins, 0x00, p2, data)).sw.toString(16);
}

const unblockBy = (cardId: string, pinResets: number, master = ISSUER) => {
  const authorisationId = newAuthorisationId();
  return { authorisationId, unblockMac: authorisePinUnblock(master, { cardId, pinResets, authorisationId }) };
};

/** A credit the way a load does it, with head office's authorisation at the card's counter. */
async function credit(store: StoreTerminal, cardId: string, amount: number) {
  const { counter } = await store.readBalance();
  const authorisationId = newAuthorisationId();
  const authorisationMac = authoriseCredit(ISSUER, { cardId, cardCounter: counter, amount, authorisationId });
  return store.credit({ amount, authorisationId, authorisationMac });
}

describe('GET DATA, PIN status', () => {
  it('shows tries left and the PIN reset counter under a terminal session only', async () => {
    const { card, store } = await openCard();
    expect(await store.readPinStatus()).toEqual({ triesLeft: 3, pinResets: 0 });
    await statusOf(store.verifyPin('9999'));
    expect(await store.readPinStatus()).toEqual({ triesLeft: 2, pinResets: 0 });
    // In clear it is refused (6982), as the balance is; another data object is 6A86.
    expect((await store.transmit(buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 2, le: 256 }))).sw).toBe(0x6982);
    expect((await store.transmit(buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 4, le: 256 }))).sw).toBe(0x6a86);
    expect(card.state.issued?.pinTriesLeft).toBe(2);
  });
});

describe('RESET RETRY COUNTER', () => {
  it("unblocks a blocked PIN with head office's MAC: the new PIN holds, the old one is wrong, a load works", async () => {
    const { card, store, cardId } = await openCard();
    await blockPin(store);
    expect(await statusOf(store.verifyPin(PIN))).toBe('6983');
    await store.unblockPin({ ...unblockBy(cardId, 0), newPin: '2468' });
    expect(card.state.issued).toMatchObject({ pin: '2468', pinTriesLeft: 3, pinResets: 1 });
    // The unblock verified no PIN: a credit now is refused until the new PIN is verified.
    expect(await statusOf(credit(store, cardId, 1000))).toBe('6982');
    expect(await statusOf(store.verifyPin(PIN))).toBe('63c2');
    await store.verifyPin('2468');
    expect((await credit(store, cardId, 1000)).newBalance).toBe(1000);
  });

  it('refuses a replayed unblock MAC (6984) and forged ones (6300), leaving the PIN as it was', async () => {
    const { card, store, cardId } = await openCard();
    const first = unblockBy(cardId, 0);
    await store.unblockPin({ ...first, newPin: '1111' });
    await blockPin(store);
    // The same authorisation again, after the store saw it: the id is used.
    expect(await statusOf(store.unblockPin({ ...first, newPin: '2222' }))).toBe('6984');
    // A MAC for the counter before the last reset, for another card, or under another issuer's keys.
    const stale = unblockBy(cardId, 0);
    expect(await statusOf(store.unblockPin({ ...stale, newPin: '2222' }))).toBe('6300');
    const otherCard = unblockBy('0123456789abcdef', 1);
    expect(await statusOf(store.unblockPin({ ...otherCard, newPin: '2222' }))).toBe('6300');
    const minted = unblockBy(cardId, 1, generateIssuerMasterKeys(1));
    expect(await statusOf(store.unblockPin({ ...minted, newPin: '2222' }))).toBe('6300');
    // A credit authorisation MAC is not an unblock MAC (another label).
    const authorisationId = newAuthorisationId();
    const creditMac = authoriseCredit(ISSUER, { cardId, cardCounter: 1, amount: 0, authorisationId });
    expect(await statusOf(store.unblockPin({ authorisationId, unblockMac: creditMac, newPin: '2222' }))).toBe('6300');
    expect(card.state.issued).toMatchObject({ pin: '1111', pinTriesLeft: 0, pinResets: 1 });
    await store.unblockPin({ ...unblockBy(cardId, 1), newPin: '2222' });
    expect(card.state.issued).toMatchObject({ pin: '2222', pinTriesLeft: 3, pinResets: 2 });
  });

  it('answers 6700, 6A80, 6A86, 6982 and 6985 as the specification says', async () => {
    const { store, cardId } = await openCard();
    const { authorisationId, unblockMac } = unblockBy(cardId, 0);
    const raw = (p2: number, data: Uint8Array) => securedStatus(store, C.INS.RESET_RETRY_COUNTER, p2, data);
    const id = Buffer.from(authorisationId, 'hex');
    const mac = Buffer.from(unblockMac, 'hex');
    expect(await raw(0x01, new Uint8Array(23))).toBe('6700');
    expect(await raw(0x01, Buffer.concat([id, mac, Buffer.from('12a4ffffffffffff', 'hex')]))).toBe('6a80');
    // Digits after the fill, or a 3-digit PIN, are malformed too.
    expect(await raw(0x01, Buffer.concat([id, mac, Buffer.from('313233ff34ffffff', 'hex')]))).toBe('6a80');
    expect(await raw(0x01, Buffer.concat([id, mac, Buffer.from('313233ffffffffff', 'hex')]))).toBe('6a80');
    expect(await raw(0x02, Buffer.concat([id, mac, Buffer.from('31323334ffffffff', 'hex')]))).toBe('6a86');
    // Without secure messaging: 6982 in clear.
    const plain = buildCommandApdu({ cla: 0x80, ins: C.INS.RESET_RETRY_COUNTER, p1: 0, p2: 1, data: new Uint8Array(24), le: 256 });
    expect((await store.transmit(plain)).sw).toBe(0x6982);

    // A card whose reset counter is exhausted takes no more unblocks.
    const exhausted = await openCard((state) => ({ ...state, issued: { ...state.issued!, pinResets: 0xffffffff } }));
    expect(await statusOf(exhausted.store.unblockPin({ ...unblockBy(exhausted.cardId, 0xffffffff), newPin: '2222' }))).toBe('6985');
  });
});

describe('CHANGE REFERENCE DATA', () => {
  it('changes the PIN after the old one; the old PIN is then wrong and no PIN stays verified', async () => {
    const { card, store, cardId } = await openCard();
    await store.verifyPin(PIN);
    await store.changePin(PIN, '86420');
    expect(card.state.issued).toMatchObject({ pin: '86420', pinTriesLeft: 3 });
    // The PIN verified before the change no longer counts.
    expect(await statusOf(credit(store, cardId, 500))).toBe('6982');
    expect(await statusOf(store.verifyPin(PIN))).toBe('63c2');
    await store.verifyPin('86420');
    expect((await credit(store, cardId, 500)).newBalance).toBe(500);
  });

  it('counts a wrong old PIN like VERIFY PIN (63Cx, then 6983) and keeps the PIN', async () => {
    const { card, store } = await openCard();
    expect(await statusOf(store.changePin('0000', '5555'))).toBe('63c2');
    expect(await statusOf(store.changePin('0001', '5555'))).toBe('63c1');
    await store.verifyPin(PIN);
    // A right PIN sets the tries back; three wrong old PINs block the PIN, the right one then too.
    for (const wrong of ['0002', '0003']) await statusOf(store.changePin(wrong, '5555'));
    expect(await statusOf(store.changePin('0004', '5555'))).toBe('6983');
    expect(await statusOf(store.changePin(PIN, '5555'))).toBe('6983');
    expect(card.state.issued).toMatchObject({ pin: PIN, pinTriesLeft: 0 });
  });

  it('answers 6700, 6A80 (no try used) and 6A86', async () => {
    const { card, store } = await openCard();
    const raw = (p2: number, data: Uint8Array) => securedStatus(store, C.INS.CHANGE_REFERENCE_DATA, p2, data);
    const field = (hex: string) => Buffer.from(hex, 'hex');
    expect(await raw(0x01, new Uint8Array(15))).toBe('6700');
    expect(await raw(0x01, Buffer.concat([field('31323334ffffffff'), field('3132ffffffffffff')]))).toBe('6a80');
    expect(await raw(0x01, Buffer.concat([field('3132333435363738'), field('ff31323334ffffff')]))).toBe('6a80');
    expect(await raw(0x00, Buffer.concat([field('31323334ffffffff'), field('35353535ffffffff')]))).toBe('6a86');
    expect(card.state.issued).toMatchObject({ pin: PIN, pinTriesLeft: 3 });
  });
});
