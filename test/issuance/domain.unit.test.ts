import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../contracts/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';
import { ApplicationInput, DuplicateApplicationError, applicationDecider } from '../../domain/index.js';
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
} from '../../domain/index.js';
import { bankIdDigits } from '../../card/index.js';

const application = {
  personal: {
    name: 'Hanako Yamada',
    address: '1-2-3 Shibuya, Tokyo',
    birthDate: '1990-04-01',
    occupation: 'engineer',
    affiliation: 'ACME',
  },
  bank: { bankName: 'Example Bank', bankCode: '0001', branchCode: '234', accountNumber: '5678901' },
  homeStoreId: 'store-a',
};

const registered = (userId: string, accountNumber = '5678901'): NewDomainEvent => ({
  type: 'UserRegistered',
  data: {
    userId,
    applicationId: `app-${userId}`,
    personal: { ...application.personal },
    bank: { ...application.bank, accountNumber },
    homeStoreId: 'store-a',
  },
});

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

  it('measures the fields the card holds in UTF-8 bytes: 255 a field, 1024 the record', () => {
    const parse = (personal: object) => ApplicationInput.safeParse({ ...application, personal: { ...application.personal, ...personal } });
    // 100 kanji are 300 bytes: the card's one-byte TLV length cannot hold them.
    const kanji = parse({ name: '山'.repeat(100) });
    expect(kanji.error!.issues[0]).toMatchObject({
      path: ['personal', 'name'],
      message: 'name is 300 bytes in UTF-8; the card holds at most 255 bytes a field',
    });
    expect(parse({ name: '山'.repeat(85) }).success).toBe(true);
    expect(parse({ address: 'a'.repeat(255) }).success).toBe(true);
    expect(parse({ affiliation: 'é'.repeat(128) }).error!.issues[0]!.path).toEqual(['personal', 'affiliation']);
    // Each field fits, together they do not: the record is named.
    const full = parse({ name: 'n'.repeat(255), address: 'a'.repeat(255), occupation: 'o'.repeat(255), affiliation: 'f'.repeat(255) });
    expect(full.error!.issues[0]).toMatchObject({ path: ['personal'], message: expect.stringContaining('at most 1024 bytes') });
  });

  it('refuses a missing name', () => {
    const { name: _name, ...personal } = application.personal;
    const result = ApplicationInput.safeParse({ ...application, personal });
    expect(result.error!.issues[0]).toMatchObject({ path: ['personal', 'name'], message: 'name is required' });
  });
});

describe('application decider', () => {
  const input = ApplicationInput.parse(application);

  const spec = DeciderSpecification.for(applicationDecider);

  it('registers a new user', () => {
    spec
      .given([])
      .when({ applicationId: 'app-u-1', userId: 'u-1', input })
      .then([registered('u-1')]);
  });

  it('refuses a second application on the same bank account', () => {
    spec
      .given([registered('u-1')])
      .when({ applicationId: 'app-2', userId: 'u-2', input })
      .thenThrows(DuplicateApplicationError);
    spec
      .given([registered('u-1')])
      .when({ applicationId: 'app-2', userId: 'u-2', input })
      .thenThrows({ code: 'duplicate_application' });
  });

  it('accepts another bank account', () => {
    spec
      .given([registered('u-1', '0000001')])
      .when({ applicationId: 'app-u-2', userId: 'u-2', input })
      .then([registered('u-2')]);
  });

  it('bank id is bank code + branch + account', () => {
    expect(bankIdDigits(application.bank)).toBe('00012345678901');
  });
});

describe('primary issuance decider', () => {
  const issuedAt = new Date('2026-11-24T10:00:00Z');

  const spec = DeciderSpecification.for(primaryIssuanceDecider);
  const primaryIssued: NewDomainEvent = {
    type: 'CardPrimaryIssued',
    data: { cardId: 'c1', userId: 'u-1', bankId: '00012345678901', expiry: '2031-11-30', keyVersion: 1 },
  };

  it('issues a card to a registered user, valid five years to the end of the month', () => {
    spec
      .given([registered('u-1')])
      .when({ userId: 'u-1', cardId: 'c1', issuedAt, keyVersion: 1 })
      .then([primaryIssued]);
  });

  it('refuses an unknown user and a card id issued before', () => {
    spec
      .given([registered('u-1'), primaryIssued])
      .when({ userId: 'u-9', cardId: 'c2', issuedAt, keyVersion: 1 })
      .thenThrows(UnknownUserError);
    spec
      .given([registered('u-1'), primaryIssued])
      .when({ userId: 'u-1', cardId: 'c1', issuedAt, keyVersion: 1 })
      .thenThrows(CardIdTakenError);
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
    expect(judgeChip({ ...chip, authCodeValid: false }, now)).toEqual({
      outcome: 'card_unusable',
      reason: 'invalid_auth_code',
      message: 'this card cannot be used',
    });
  });

  it('the authentication code is checked before the issuance state', () => {
    expect(judgeChip({ ...chip, authCodeValid: false, state: 'secondary_issued' }, now)).toMatchObject({ reason: 'invalid_auth_code' });
  });

  it('already secondary-issued → purse operations', () => {
    expect(judgeChip({ ...chip, state: 'secondary_issued' }, now)).toEqual({
      outcome: 'already_issued',
      message: 'this card is already issued; go on to purse operations',
    });
  });

  it('blank or expired card → cannot be used', () => {
    expect(judgeChip({ ...chip, state: 'blank' }, now)).toMatchObject({ outcome: 'card_unusable', reason: 'not_primary_issued' });
    expect(judgeChip({ ...chip, state: 'terminated' }, now)).toMatchObject({ outcome: 'card_unusable', reason: 'terminated' });
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
    const event = cardIssued(
      chip,
      verdict.record,
      { digest: new Uint8Array(32), sealedForHeadOffice: new Uint8Array(5) },
      { storeId: 'store-a', terminalId: 't1' },
    );
    expect(event.data).toMatchObject({
      cardId: 'c1',
      userId: 'u-1',
      bankId: '00012345678901',
      storeId: 'store-a',
      terminalId: 't1',
      expiry: '2031-11-30',
    });
  });

  it('rejections carry the reason and the counter message', () => {
    expect(cardIssueRejected('c1', 'b', 'invalid_auth_code', { storeId: 's', terminalId: 't' }).data.message).toBe(
      'this card cannot be used',
    );
    expect(cardIssueRejected('c1', 'b', 'no_issuance_data', { storeId: 's', terminalId: 't' }).data.message).toBe(
      'no issuance data for this card',
    );
  });
});
