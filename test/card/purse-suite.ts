import { describe, expect, it } from 'vitest';
import {
  authoriseCredit,
  buildCommandApdu,
  chipCommands as C,
  newAuthorisationId,
  verifyCardMac,
  type CardState,
} from '../../card/index.js';
import { CardRemovedError, CardStatusError, type CardTransport } from '../../reader/index.js';
import { BANK, ISSUER, load, PERSONAL, PIN, primaryIssue, storeTerminal } from './card-fixture.js';

/** One fresh blank card in a reader, however the reader is made. */
export interface CardRig {
  readonly transport: CardTransport;
  /** The next command with this INS finds the card pulled out before it commits. */
  pullDuring(ins: number): void;
  /** Puts the (pulled) card back and waits until the reader sees it. */
  reinsert(): Promise<void>;
  /** What the card keeps in non-volatile memory right now. */
  state(): CardState;
}

async function expectStatus(promise: Promise<unknown>, sw: number): Promise<CardStatusError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(CardStatusError);
  expect((error as CardStatusError).sw.toString(16)).toBe(sw.toString(16));
  return error as CardStatusError;
}

/** The purse application's behaviour, the same over every transport. */
export function definePurseSuite(transportName: string, freshCard: () => Promise<CardRig>): void {
  describe(`purse application over ${transportName}`, () => {
    it('issues, personalises, reads back, loads, pays and logs', async () => {
      const rig = await freshCard();
      const cardId = await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);

      const verdict = await store.checkValidity(new Date('2026-11-24T00:00:00Z'));
      expect(verdict).toMatchObject({ usable: true, problems: [], info: { cardId, lifecycle: 'primary-issued', expiry: '2030-12' } });
      expect(await store.readBankId()).toEqual(BANK);
      await store.personalise(PERSONAL, BANK);
      expect(await store.readPersonalData()).toEqual({ personal: PERSONAL, bankId: BANK });
      expect((await store.readInfo()).lifecycle).toBe('secondary-issued');

      const { receipt: loaded } = await load(store, 3000);
      expect(loaded).toMatchObject({ operation: 'credit', cardId, counter: 1, amount: 3000, newBalance: 3000 });
      expect(verifyCardMac(ISSUER, loaded)).toBe(true);
      await load(store, 10_000);
      const paid = await store.debit({ amount: 5500, at: new Date('2026-11-24T10:00:00Z') });
      expect(paid).toMatchObject({ operation: 'debit', counter: 3, amount: 5500, newBalance: 7500 });
      expect(verifyCardMac(ISSUER, paid)).toBe(true);
      expect(verifyCardMac(ISSUER, { ...paid, amount: 550 })).toBe(false);
      expect(await store.readBalance()).toEqual({ balance: 7500, counter: 3, tampered: false });

      const log = await store.readLog();
      expect(log.map((entry) => [entry.operation, entry.amount, entry.counter, entry.balanceAfter])).toEqual([
        ['debit', 5500, 3, 7500],
        ['credit', 10_000, 2, 13_000],
        ['credit', 3000, 1, 3000],
      ]);
      expect(log[0]).toMatchObject({ terminalId: paid.terminalId, mac: paid.mac, time: new Date('2026-11-24T10:00:00Z') });
    });

    it('answers 6700 to a command of the wrong length', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await store.select();
      const shortAuthenticate = buildCommandApdu({
        cla: 0x80,
        ins: C.INS.MUTUAL_AUTHENTICATE,
        p1: 0,
        p2: 1,
        data: new Uint8Array(16),
        le: 16,
      });
      expect((await store.transmit(shortAuthenticate)).sw).toBe(0x6700);
      const truncated = Uint8Array.of(0x80, C.INS.GET_DATA, 0x00, 0x01, 0x05, 0x01);
      expect((await store.transmit(truncated)).sw).toBe(0x6700);
    });

    it('answers 6982 to protected commands without an authenticated session', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await store.select();
      const plainDebit = buildCommandApdu({ cla: 0x80, ins: C.INS.DEBIT, p1: 0, p2: 0, data: new Uint8Array(16), le: 256 });
      expect((await store.transmit(plainDebit)).sw).toBe(0x6982);
      await expectStatus(store.debit({ amount: 1 }), 0x6982);
      await store.authenticate();
      // A credit needs the PIN verified in this session as well.
      await expectStatus(store.credit({ amount: 1000, authorisationId: newAuthorisationId(), authorisationMac: '00'.repeat(8) }), 0x6982);
    });

    it('shows the balance and the usage log only under a terminal session', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await load(store, 2500);
      await store.select();
      const plainBalance = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_BALANCE, p1: 0, p2: 0, le: 256 });
      const plainLog = buildCommandApdu({ cla: 0x80, ins: C.INS.READ_RECORD, p1: 1, p2: 0, le: 256 });
      for (const apdu of [plainBalance, plainLog]) expect(await store.transmit(apdu)).toEqual({ data: new Uint8Array(0), sw: 0x6982 });
      await expectStatus(store.readBalance(), 0x6982);
      await store.authenticate();
      expect(await store.readBalance()).toEqual({ balance: 2500, counter: 1, tampered: false });
      // Under a session the plain command is still refused: the answer would leave the card unprotected.
      expect((await store.transmit(plainBalance)).sw).toBe(0x6982);
    });

    it('counts wrong PINs down with 63Cx and blocks with 6983 after three', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await store.select();
      await store.authenticate();
      expect((await expectStatus(store.verifyPin('9999'), 0x63c2)).pinTriesLeft).toBe(2);
      await expectStatus(store.verifyPin('9998'), 0x63c1);
      await expectStatus(store.verifyPin('9997'), 0x6983);
      await expectStatus(store.verifyPin(PIN), 0x6983);
      expect(rig.state().issued?.pinTriesLeft).toBe(0);
    });

    it('refuses a debit beyond the balance with 6985 and leaves the purse as it was', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await load(store, 1000);
      await expectStatus(store.debit({ amount: 1001 }), 0x6985);
      expect(await store.readBalance()).toEqual({ balance: 1000, counter: 1, tampered: false });
    });

    it('refuses a credit without a valid authorisation (6300) and a replayed one (6984)', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      const { authorisationId, authorisationMac } = await load(store, 2000);
      await store.verifyPin(PIN);
      await expectStatus(store.credit({ amount: 2000, authorisationId, authorisationMac }), 0x6984);

      await store.authenticate();
      await store.verifyPin(PIN);
      const info = await store.readInfo();
      const forgedId = newAuthorisationId();
      // A store cannot mint credit: a MAC for another amount, or made with its own keys, fails.
      const otherAmount = authoriseCredit(ISSUER, { cardId: info.cardId, cardCounter: 1, amount: 100, authorisationId: forgedId });
      await expectStatus(store.credit({ amount: 50_000, authorisationId: forgedId, authorisationMac: otherAmount }), 0x6300);
      expect(await store.readBalance()).toEqual({ balance: 2000, counter: 1, tampered: false });
    });

    it('keeps balance and counter when the card is pulled during a debit', async () => {
      const rig = await freshCard();
      await primaryIssue(rig.transport);
      const store = storeTerminal(rig.transport);
      await load(store, 5000);
      await store.authenticate();
      rig.pullDuring(C.INS.DEBIT);
      const error = await store.debit({ amount: 1200 }).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(CardRemovedError);
      await rig.reinsert();
      const after = storeTerminal(rig.transport);
      await after.select();
      await after.authenticate();
      expect(await after.readBalance()).toEqual({ balance: 5000, counter: 1, tampered: false });
      expect((await after.readLog()).map((entry) => entry.operation)).toEqual(['credit']);
    });

    it('answers 6A82 to an unknown AID and shows a blank card as unusable', async () => {
      const rig = await freshCard();
      const store = storeTerminal(rig.transport);
      const response = await store.transmit(
        buildCommandApdu({ cla: 0, ins: C.INS.SELECT, p1: 4, p2: 0, data: Uint8Array.of(0xa0, 0, 0, 0, 0x03), le: 256 }),
      );
      expect(response.sw).toBe(0x6a82);
      await expect(store.select()).resolves.toBeUndefined();
      const verdict = await store.checkValidity();
      expect(verdict).toMatchObject({ usable: false, problems: ['card is blank (not issued)'] });
    });
  });
}
