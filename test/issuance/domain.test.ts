import { describe, expect, it } from 'vitest';
import type { DomainEvent } from '../../contracts/index.js';
import {
  ApplicationInput,
  DuplicateApplicationError,
  applicationDecider,
  bankIdOf,
} from '../../domain/application.js';
import {
  CardIdTakenError,
  UnknownUserError,
  cardExpiry,
  cardIssueRejected,
  cardIssued,
  judgeChip,
  judgeIssuanceEntry,
  judgeStripe,
  primaryIssuanceDecider,
  type ChipFacts,
} from '../../domain/issuance.js';

const application = {
  personal: { name: 'Hanako Yamada', address: '1-2-3 Shibuya, Tokyo', birthDate: '1990-04-01', occupation: 'engineer', affiliation: 'ACME' },
  bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: '5678901' },
  homeStoreId: 'store-a',
};

const registered = (userId: string, accountNumber = '5678901'): DomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    applicationId: `app-${userId}`,
    personal: { ...application.personal },
    bank: { ...application.bank, accountNumber },
    homeStoreId: 'store-a',
  },
});

const fold = <S>(decider: { initialState(): S; evolve(state: S, event: DomainEvent): S }, events: DomainEvent[]): S =>
  events.reduce(decider.evolve, decider.initialState());

describe('application input', () => {
  it('accepts a complete application and fills optional fields', () => {
    const parsed = ApplicationInput.parse({ ...application, personal: { name: 'A', address: 'B', birthDate: '2000-02-29' } });
    expect(parsed.personal.occupation).toBe('');
  });

  it.each([
    [{ bank: { ...application.bank, bankCode: '12' } }, 'bank.bankCode', 'bank code must be exactly 4 digits'],
    [{ bank: { ...application.bank, branchCode: '12a' } }, 'bank.branchCode', 'branch code must be exactly 3 digits'],
    [{ bank: { ...application.bank, accountNumber: '123456' } }, 'bank.accountNumber', 'account number must be exactly 7 digits'],
    [{ personal: { ...application.personal, name: '  ' } }, 'personal.name', 'name is required'],
    [{ personal: { ...application.personal, birthDate: '1990-02-30' } }, 'personal.birthDate', 'birth date is not a calendar date'],
    [{ personal: { ...application.personal, birthDate: '01/04/1990' } }, 'personal.birthDate', 'birth date must be YYYY-MM-DD'],
    [{ homeStoreId: 'no spaces' }, 'homeStoreId', 'store id must be'],
  ])('refuses %j naming the field', (change, field, message) => {
    const result = ApplicationInput.safeParse({ ...application, ...change });
    expect(result.success).toBe(false);
    const issue = result.error!.issues[0]!;
    expect(issue.path.join('.')).toBe(field);
    expect(issue.message).toContain(message);
  });

  it('refuses a missing name', () => {
    const { name: _name, ...personal } = application.personal;
    const result = ApplicationInput.safeParse({ ...application, personal });
    expect(result.error!.issues[0]).toMatchObject({ path: ['personal', 'name'], message: 'name is required' });
  });
});

describe('application decider', () => {
  const input = ApplicationInput.parse(application);

  it('registers a new user', () => {
    const events = applicationDecider.decide({ applicationId: 'app-1', userId: 'u-1', input }, applicationDecider.initialState());
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({ userId: 'u-1', applicationId: 'app-1', homeStoreId: 'store-a', bank: { bankCode: '0001' } });
  });

  it('refuses a second application on the same bank account', () => {
    const state = fold(applicationDecider, [registered('u-1')]);
    expect(() => applicationDecider.decide({ applicationId: 'app-2', userId: 'u-2', input }, state)).toThrow(DuplicateApplicationError);
  });

  it('accepts another bank account', () => {
    const state = fold(applicationDecider, [registered('u-1', '0000001')]);
    expect(applicationDecider.decide({ applicationId: 'app-2', userId: 'u-2', input }, state)).toHaveLength(1);
  });

  it('bank id is bank code + branch + account', () => {
    expect(bankIdOf(application.bank)).toBe('00012345678901');
  });
});

describe('primary issuance decider', () => {
  const issuedAt = new Date('2026-11-24T10:00:00Z');

  it('issues a card to a registered user, valid five years to the end of the month', () => {
    const state = fold(primaryIssuanceDecider, [registered('u-1')]);
    const [event] = primaryIssuanceDecider.decide({ userId: 'u-1', cardId: '0102030405060708', issuedAt, keyVersion: 1 }, state);
    expect(event!.data).toEqual({ cardId: '0102030405060708', userId: 'u-1', bankId: '00012345678901', expiry: '2031-11-30', keyVersion: 1 });
  });

  it('refuses an unknown user and a card id issued before', () => {
    const state = fold(primaryIssuanceDecider, [
      registered('u-1'),
      { type: 'CardPrimaryIssued', data: { cardId: 'c1', userId: 'u-1', bankId: '00012345678901', expiry: '2031-11-30', keyVersion: 1 } },
    ]);
    expect(() => primaryIssuanceDecider.decide({ userId: 'u-9', cardId: 'c2', issuedAt, keyVersion: 1 }, state)).toThrow(UnknownUserError);
    expect(() => primaryIssuanceDecider.decide({ userId: 'u-1', cardId: 'c1', issuedAt, keyVersion: 1 }, state)).toThrow(CardIdTakenError);
  });

  it('expiry of a card issued on 31 January ends in January', () => {
    expect(cardExpiry(new Date('2024-01-31T23:00:00Z'))).toBe('2029-01-31');
    expect(cardExpiry(new Date('2024-02-29T00:00:00Z'))).toBe('2029-02-28');
  });
});

describe('secondary issuance branches', () => {
  const now = new Date('2026-11-24T10:00:00Z');
  const chip: ChipFacts = { cardId: 'c1', authCodeValid: true, state: 'primary_issued', expiry: '2031-11-30', bankId: '00012345678901' };
  const entry = {
    bankId: '00012345678901',
    userId: 'u-1',
    personal: application.personal,
    bank: application.bank,
    homeStoreId: 'store-a',
    cards: [{ cardId: 'c1', expiry: '2031-11-30' }],
  };

  it('invalid authentication code → card cannot be used', () => {
    expect(judgeChip({ ...chip, authCodeValid: false }, now)).toEqual({ outcome: 'card_unusable', reason: 'invalid_auth_code', message: 'this card cannot be used' });
  });

  it('the authentication code is checked before the issuance state', () => {
    expect(judgeChip({ ...chip, authCodeValid: false, state: 'secondary_issued' }, now)).toMatchObject({ reason: 'invalid_auth_code' });
  });

  it('already secondary-issued → purse operations', () => {
    expect(judgeChip({ ...chip, state: 'secondary_issued' }, now)).toEqual({ outcome: 'already_issued', message: 'this card is already issued; go on to purse operations' });
  });

  it('blank or expired card → cannot be used', () => {
    expect(judgeChip({ ...chip, state: 'blank' }, now)).toMatchObject({ outcome: 'card_unusable', reason: 'not_primary_issued' });
    expect(judgeChip({ ...chip, expiry: '2026-11-23' }, now)).toMatchObject({ outcome: 'card_unusable', reason: 'expired' });
    expect(judgeChip({ ...chip, expiry: '2026-11-24' }, now)).toEqual({ outcome: 'look_up' });
  });

  it('a stripe that disagrees with the chip → cannot be used', () => {
    expect(judgeStripe(chip, '00019999999999')).toMatchObject({ outcome: 'card_unusable', reason: 'stripe_mismatch' });
    expect(judgeStripe(chip, '00012345678901')).toEqual({ outcome: 'look_up' });
  });

  it('no entry, or an entry without this card → no issuance data', () => {
    expect(judgeIssuanceEntry(chip, undefined)).toEqual({ outcome: 'no_issuance_data', message: 'no issuance data for this card' });
    expect(judgeIssuanceEntry(chip, { ...entry, cards: [{ cardId: 'other', expiry: '2031-11-30' }] }).outcome).toBe('no_issuance_data');
  });

  it('an entry listing the card → personalise with its data, recorded as CardIssued', () => {
    const verdict = judgeIssuanceEntry(chip, entry);
    expect(verdict).toMatchObject({ outcome: 'personalise', record: { userId: 'u-1', personal: { name: 'Hanako Yamada' } } });
    if (verdict.outcome !== 'personalise') throw new Error('unreachable');
    const event = cardIssued(chip, verdict.record, { digest: new Uint8Array(32), sealedForHeadOffice: new Uint8Array(5) }, { storeId: 'store-a', terminalId: 't1' });
    expect(event.data).toMatchObject({ cardId: 'c1', userId: 'u-1', bankId: '00012345678901', storeId: 'store-a', terminalId: 't1', expiry: '2031-11-30' });
  });

  it('rejections carry the reason and the counter message', () => {
    expect(cardIssueRejected('c1', 'b', 'invalid_auth_code', { storeId: 's', terminalId: 't' }).data.message).toBe('this card cannot be used');
    expect(cardIssueRejected('c1', 'b', 'no_issuance_data', { storeId: 's', terminalId: 't' }).data.message).toBe('no issuance data for this card');
  });
});
