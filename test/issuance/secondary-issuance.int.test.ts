// The secondary issuance flow, branch by branch, on a chip in process (fast), with the real local
// event log and the real SQLite issuance copy. The same flow through pcscd + vpcd and NATS is in
// issuance.e2e.test.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import {
  chipCommands,
  generateIssuerMasterKeys,
  newBlankCard,
  parseBankId,
  terminalKeysOf,
  type IssuerMasterKeys,
} from '../../card/index.js';
import { decodeEvent, generatePinKey, generateSigningKey, pb } from '../../contracts/index.js';
import { generateSealingKey, openSealed, type SealingKeyPair } from '../../contracts/index.js';
import { ChipTerminal, InProcessCard, type CardTransport } from '../../reader/index.js';
import { losingAnswerTo } from '../../testkit/purse-world.js';
import { writtenRecordDigest } from '../../domain/index.js';
import { IssuanceInfo, SecondaryIssuance, issuedRecordSealContext } from '../../edge/issuance/index.js';
import { EventLog } from '../../edge/log/index.js';
import type { PosRequest } from '../../edge/pos/index.js';

const quiet = { info() {}, warn() {}, error: console.error };
const BANK_ID = '00012345678901';
const CARD_ID = '0102030405060708';

let dir: string;
let master: IssuerMasterKeys;
let hq: SealingKeyPair;
/** Head office's signing key, as the store knows it. */
const hqSigning = generateSigningKey();
let log: EventLog;
let db: Database.Database;
let info: IssuanceInfo;
let card: InProcessCard;
let stripe: string;

const entry = (cardId = CARD_ID) => ({
  bankId: BANK_ID,
  userId: 'user-1',
  personal: { name: 'Hanako Yamada', address: '1-2-3 Shibuya', birthDate: '1990-04-01', occupation: 'engineer', affiliation: 'ACME' },
  bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: '5678901' },
  homeStoreId: 'A',
  cards: [{ cardId, expiry: '2031-11-30' }],
});

const request = (commandId: string): PosRequest => ({
  commandId,
  storeId: 'A',
  terminalId: 'pos-1',
  terminalName: 'A/pos-1',
  command: pb.PosCommand.create({ commandId, storeId: 'A', issue: {} }),
});

const service = (keys = terminalKeysOf(master), reader: () => CardTransport = () => card) =>
  new SecondaryIssuance({
    storeId: 'A',
    log,
    db,
    keys,
    pinMasterKey: generatePinKey(),
    cardReader: reader,
    stripeReader: async () => parseBankId(stripe),
    info,
    hqSealingPublicKey: hq.publicKey,
    hqSigningPublicKey: hqSigning.publicKey,
    logger: quiet,
    now: () => new Date('2026-11-24T10:00:00Z'),
  });

const loggedEvents = () => log.read(1, 100).map((e) => decodeEvent(e.envelope.eventType, e.envelope.payload));

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cardsys-secondary-'));
  master = generateIssuerMasterKeys(1);
  hq = generateSealingKey();
  log = await EventLog.open({ dir: join(dir, 'log'), storeId: 'A', logger: quiet });
  db = new Database(join(dir, 'edge.db'));
  // Not attached to NATS: head office counts as unreachable.
  info = new IssuanceInfo({
    storeId: 'A',
    db,
    sealingKey: generateSealingKey().privateKey,
    hqSealingPublicKey: hq.publicKey,
    hqSigningPublicKey: hqSigning.publicKey,
    signingKey: generateSigningKey(),
    logger: quiet,
  });
  card = new InProcessCard(newBlankCard(master.transport));
  await new ChipTerminal(card, { keys: master, terminalName: 'hq-issuer' }).initialise(master, {
    cardId: CARD_ID,
    expiry: '2031-11',
    pin: '1234',
    bankId: parseBankId(BANK_ID),
  });
  stripe = BANK_ID;
});

afterEach(async () => {
  await log.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secondary issuance flow', () => {
  it('writes the personal data under secure messaging and records CardIssued without secrets', async () => {
    info.cache.add(entry());
    const reply = await service().issue(request('c1'));
    expect(reply).toMatchObject({ ok: true, code: 'issued', message: 'card issued', cardId: CARD_ID });

    const terminal = new ChipTerminal(card, { keys: terminalKeysOf(master), terminalName: 'check' });
    await terminal.select();
    expect((await terminal.readInfo()).lifecycle).toBe('secondary-issued');
    await terminal.authenticate();
    expect(await terminal.readPersonalData()).toMatchObject({
      personal: { name: 'Hanako Yamada', birthDate: '1990-04-01' },
      bankId: parseBankId(BANK_ID),
    });

    const [event] = loggedEvents();
    expect(event).toMatchObject({
      type: 'CardIssued',
      data: { cardId: CARD_ID, userId: 'user-1', bankId: BANK_ID, storeId: 'A', terminalId: 'A/pos-1', expiry: '2031-11-30' },
    });
    if (event?.type !== 'CardIssued') throw new Error('unreachable');
    // Personal data is only in the sealed record, which opens with head office's key.
    expect(Buffer.from(log.read(1, 1)[0]!.bytes).includes('Hanako')).toBe(false);
    const record = pb.IssuanceEntry.decode(openSealed(hq.privateKey, issuedRecordSealContext, event.data.writtenSealed));
    expect(record.personal?.name).toBe('Hanako Yamada');
    expect(event.data.writtenDigest).toHaveLength(32);
  });

  it('a card issued twice is not re-personalised: the second time goes to purse operations', async () => {
    info.cache.add(entry());
    await service().issue(request('c1'));
    const before = structuredClone(card.state);
    const reply = await service().issue(request('c2'));
    expect(reply).toMatchObject({
      ok: true,
      code: 'already_issued',
      message: 'this card is already issued; go on to purse operations',
      balance: 0,
    });
    expect(card.state).toEqual(before);
    expect(loggedEvents().map((e) => e.type)).toEqual(['CardIssued']);
  });

  it('invalid authentication code: "this card cannot be used", CardIssueRejected, nothing written', async () => {
    info.cache.add(entry());
    // A terminal whose authCode master differs sees the card's code as invalid (a forged card looks the same).
    const forgedView = { ...terminalKeysOf(master), authCode: generateIssuerMasterKeys(1).authCode };
    const reply = await service(forgedView).issue(request('c1'));
    expect(reply).toMatchObject({ ok: false, code: 'card_unusable', message: 'this card cannot be used' });
    expect(card.state.lifecycle).toBe('primary-issued');
    expect(loggedEvents()).toMatchObject([
      { type: 'CardIssueRejected', data: { cardId: CARD_ID, reason: 'invalid_auth_code', message: 'this card cannot be used' } },
    ]);
  });

  it('a blank card cannot be used', async () => {
    card = new InProcessCard(newBlankCard(master.transport));
    expect(await service().issue(request('c1'))).toMatchObject({ ok: false, code: 'card_unusable', message: 'this card cannot be used' });
    expect(loggedEvents()).toMatchObject([{ type: 'CardIssueRejected', data: { reason: 'invalid_auth_code' } }]);
  });

  it('a stripe naming another account than the chip: cannot be used, nothing written', async () => {
    info.cache.add(entry());
    stripe = '00019999999999';
    expect(await service().issue(request('c1'))).toMatchObject({ ok: false, code: 'card_unusable' });
    expect(card.state.lifecycle).toBe('primary-issued');
    expect(loggedEvents()).toMatchObject([{ type: 'CardIssueRejected', data: { reason: 'stripe_mismatch' } }]);
  });

  it('not in the copy and head office unreachable: "no issuance data for this card", nothing written to the card', async () => {
    const before = structuredClone(card.state);
    const reply = await service().issue(request('c1'));
    expect(reply).toMatchObject({ ok: false, code: 'no_issuance_data', message: 'no issuance data for this card' });
    expect(card.state).toEqual(before);
    expect(loggedEvents()).toMatchObject([{ type: 'CardIssueRejected', data: { reason: 'no_issuance_data', bankId: BANK_ID } }]);
  });

  it("an entry that does not list this card is no data: another card's data is never written", async () => {
    info.cache.add(entry('ffffffffffffffff'));
    expect(await service().issue(request('c1'))).toMatchObject({ ok: false, code: 'no_issuance_data' });
    expect(card.state.lifecycle).toBe('primary-issued');
  });

  it('data the card cannot hold: CardIssueRejected naming the field, nothing sent to the card', async () => {
    // A user registered before head office checked applications against the chip's limits.
    info.cache.add({ ...entry(), personal: { ...entry().personal, name: '山'.repeat(100) } });
    const before = structuredClone(card.state);
    const reply = await service().issue(request('c1'));
    const message = "this card cannot hold the customer's data: name is 300 bytes in UTF-8; the card holds at most 255 bytes a field";
    expect(reply).toMatchObject({ ok: false, code: 'personal_data_too_long', message, cardId: CARD_ID });
    expect(card.state).toEqual(before);
    expect(loggedEvents()).toMatchObject([
      { type: 'CardIssueRejected', data: { reason: 'personal_data_too_long', message, bankId: BANK_ID } },
    ]);
  });

  it('a card that refuses the record with a status word: CardIssueRejected with that status, not a card error', async () => {
    info.cache.add(entry());
    // A chip that holds less than the specification's 1024 bytes answers PERSONALISE with 6700.
    const smallCard = {
      transmit: async (apdu: Uint8Array) => (apdu[1] === chipCommands.INS.PERSONALISE ? Uint8Array.of(0x67, 0x00) : card.transmit(apdu)),
    };
    const reply = await service(terminalKeysOf(master), () => smallCard).issue(request('c1'));
    expect(reply).toMatchObject({
      ok: false,
      code: 'record_refused_by_card',
      message: expect.stringMatching(/^this card cannot hold the customer's data: PERSONALISE: card answered 6700/),
    });
    expect(card.state.lifecycle).toBe('primary-issued');
    expect(loggedEvents()).toMatchObject([{ type: 'CardIssueRejected', data: { reason: 'record_refused_by_card', cardId: CARD_ID } }]);
  });

  it('card pulled during personalisation: nothing recorded, the card is still waiting for issuance', async () => {
    info.cache.add(entry());
    card.pullDuring(chipCommands.INS.PERSONALISE);
    const reply = await service().issue(request('c1'));
    expect(reply).toMatchObject({ ok: false, code: 'card_removed' });
    expect(loggedEvents()).toEqual([]);
    card.insert();
    expect(card.state.lifecycle).toBe('primary-issued');
  });

  it('card pulled after the chip committed PERSONALISE: the next insertion records CardIssued (recovered) from the chip, once', async () => {
    info.cache.add(entry());
    const reply = await service(terminalKeysOf(master), () => losingAnswerTo(card, chipCommands.INS.PERSONALISE)).issue(request('c1'));
    expect(reply).toMatchObject({ ok: false, code: 'card_removed' });
    expect(card.state.lifecycle).toBe('secondary-issued');
    expect(loggedEvents()).toEqual([]);

    card.insert();
    const again = await service().issue(request('c2'));
    expect(again).toMatchObject({ ok: true, code: 'issued', message: expect.stringContaining('recorded now from the data on the card') });
    const [event] = loggedEvents();
    expect(event).toMatchObject({ type: 'CardIssued', data: { cardId: CARD_ID, userId: 'user-1', bankId: BANK_ID, recovered: true } });
    if (event?.type !== 'CardIssued') throw new Error('unreachable');
    const written = pb.IssuanceEntry.decode(openSealed(hq.privateKey, issuedRecordSealContext, event.data.writtenSealed));
    expect(written.personal).toMatchObject({ name: 'Hanako Yamada', address: '1-2-3 Shibuya' });
    expect(Buffer.from(event.data.writtenDigest)).toEqual(Buffer.from(writtenRecordDigest(pb.IssuanceEntry.encode(written).finish())));

    // Recorded: the next insertion goes to purse operations and records nothing.
    expect(await service().issue(request('c3'))).toMatchObject({ ok: true, code: 'already_issued' });
    expect(loggedEvents()).toHaveLength(1);
  });

  it('a card issued elsewhere and recorded (no longer waiting at head office or in the copy) is not recorded again', async () => {
    info.cache.add(entry());
    await service().issue(request('c1'));
    // Another store's node (its own edge.db) sees the card personalised; the copy no longer lists it.
    const otherDb = new Database(join(dir, 'other-edge.db'));
    const otherInfo = new IssuanceInfo({
      storeId: 'B',
      db: otherDb,
      sealingKey: generateSealingKey().privateKey,
      hqSealingPublicKey: hq.publicKey,
      hqSigningPublicKey: hqSigning.publicKey,
      signingKey: generateSigningKey(),
      logger: quiet,
    });
    const other = new SecondaryIssuance({
      storeId: 'B',
      log,
      db: otherDb,
      keys: terminalKeysOf(master),
      pinMasterKey: generatePinKey(),
      cardReader: () => card,
      info: otherInfo,
      hqSealingPublicKey: hq.publicKey,
      hqSigningPublicKey: hqSigning.publicKey,
      logger: quiet,
    });
    expect(await other.issue(request('c2'))).toMatchObject({ ok: true, code: 'already_issued' });
    expect(loggedEvents().map((e) => e.type)).toEqual(['CardIssued']);
    otherDb.close();
  });
});
