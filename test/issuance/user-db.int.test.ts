// Head office registers an issued card in the user DB and checks that what the store wrote to the
// chip is the user's registered data (the digest carried by CardIssued).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { decodeEvent, encodeEvent, pb, type NewDomainEvent } from '../../contracts/index.js';
import { writtenRecordBytes, writtenRecordDigest } from '../../domain/index.js';
import { ReadModelQueries, userDbProjection } from '../../projections/index.js';
import type { HostEvent } from '../../eventstore/index.js';

const dir = mkdtempSync(join(tmpdir(), 'cardsys-user-db-'));
const db = new Database(join(dir, 'readmodels.db'));
db.exec(userDbProjection.schema);
let position = 0n;

const apply = (event: NewDomainEvent, occurredAtMs = 1_764_000_000_000) => {
  const decoded = decodeEvent(event.type, encodeEvent(event));
  const envelope = pb.EventEnvelope.create({
    eventId: `e${++position}`,
    storeId: 'A',
    storeSeq: Number(position),
    occurredAtMs,
    eventType: event.type,
  });
  userDbProjection.apply(db, { ...decoded, envelope, position, streamId: 'store-A', revision: position } as HostEvent);
};

const personal = { name: 'Jiro Tanaka', address: '1-1 Sakae, Nagoya', birthDate: '1970-07-07', occupation: 'chef', affiliation: '' };
const bank = { bankName: 'Example Bank', bankCode: '0002', branchCode: '003', accountNumber: '0000004' };
const bankId = '00020030000004';

afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('user DB: issued cards', () => {
  apply({ type: 'UserRegistered', data: { userId: 'u1', applicationId: 'a1', personal, bank, homeStoreId: 'A' } });

  const issued = (cardId: string, writtenPersonal: typeof personal, at = { storeId: 'A', recovered: false }): NewDomainEvent => ({
    type: 'CardIssued',
    data: {
      cardId,
      userId: 'u1',
      bankId,
      storeId: at.storeId,
      recovered: at.recovered,
      terminalId: 'pos-1',
      expiry: '2031-11-30',
      writtenDigest: writtenRecordDigest(writtenRecordBytes(bankId, { userId: 'u1', personal: writtenPersonal, bank })),
    },
  });

  it('shows the issuing store, time and expiry, and that the chip holds the registered data', () => {
    apply({ type: 'CardPrimaryIssued', data: { cardId: 'c1', userId: 'u1', bankId, expiry: '2031-11-30', keyVersion: 1 } });
    apply(issued('c1', personal), Date.UTC(2026, 10, 24, 9, 30));
    expect(new ReadModelQueries(db).card('c1')).toMatchObject({
      cardId: 'c1',
      expiry: '2031-11-30',
      issuance: { storeId: 'A', terminalId: 'pos-1', issuedAt: '2026-11-24T09:30:00.000Z', recordMatchesUser: true },
    });
  });

  it('flags a card whose written data is not the registered data', () => {
    apply({ type: 'CardPrimaryIssued', data: { cardId: 'c2', userId: 'u1', bankId, expiry: '2031-11-30', keyVersion: 1 } });
    apply(issued('c2', { ...personal, name: 'Somebody Else' }));
    expect(new ReadModelQueries(db).card('c2')?.issuance?.recordMatchesUser).toBe(false);
  });

  it("a recovered record never replaces the issuing store's; the issuing store's, replicated late, replaces a recovered one", () => {
    const view = (cardId: string) => new ReadModelQueries(db).card(cardId)?.issuance;
    apply({ type: 'CardPrimaryIssued', data: { cardId: 'c3', userId: 'u1', bankId, expiry: '2031-11-30', keyVersion: 1 } });
    apply(issued('c3', personal), Date.UTC(2026, 10, 24, 9, 0));
    apply(issued('c3', personal, { storeId: 'B', recovered: true }), Date.UTC(2026, 10, 24, 10, 0));
    expect(view('c3')).toMatchObject({ storeId: 'A', recovered: false, issuedAt: '2026-11-24T09:00:00.000Z' });

    apply({ type: 'CardPrimaryIssued', data: { cardId: 'c4', userId: 'u1', bankId, expiry: '2031-11-30', keyVersion: 1 } });
    apply(issued('c4', personal, { storeId: 'B', recovered: true }), Date.UTC(2026, 10, 24, 10, 0));
    expect(view('c4')).toMatchObject({ storeId: 'B', recovered: true, recordMatchesUser: true });
    apply(issued('c4', personal), Date.UTC(2026, 10, 24, 9, 0));
    expect(view('c4')).toMatchObject({ storeId: 'A', recovered: false });
  });
});
