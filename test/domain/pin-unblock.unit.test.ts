import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, type DomainEvent, type NewDomainEvent } from '../../contracts/index.js';
import {
  decidePinUnblock,
  evolvePinUnblock,
  IDENTITY_CHECK_WINDOW_MS,
  initialPinUnblockState,
  type PinUnblockCommand,
  pinUnblockDecider,
  sameName,
} from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.for(pinUnblockDecider);
const NOW = Date.parse('2026-12-02T10:00:00Z');
const HOUR = 60 * 60_000;

const registered: NewDomainEvent[] = [
  {
    type: 'UserRegistered',
    data: { userId: 'u1', applicationId: 'a1', personal: { name: 'Sato Hanako', birthDate: '1990-04-01', address: 'Tokyo' } },
  },
  { type: 'CardPrimaryIssued', data: { cardId: 'c1', userId: 'u1', bankId: '00012340000001', expiry: '2030-12-31', keyVersion: 1 } },
];

const ask = (overrides: Partial<PinUnblockCommand> = {}): PinUnblockCommand => ({
  kind: 'authorise_unblock',
  authorizationId: 'a0a0a0a0a0a0a0a0',
  cardId: 'c1',
  pinResets: 0,
  name: 'Sato Hanako',
  birthDate: '1990-04-01',
  storeId: 's1',
  terminalId: 's1/pos-1',
  nowMs: NOW,
  ...overrides,
});

const refused = (reason: string, message: string, cardId = 'c1'): NewDomainEvent => ({
  type: 'PinUnblockRefused',
  data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId, reason, message, storeId: 's1', terminalId: 's1/pos-1' },
});

describe('PIN unblock at head office', () => {
  it("authorises an unblock bound to the chip's PIN reset counter when name and birth date match the registered user", () => {
    const state = spec
      .given(registered)
      .when(ask({ pinResets: 2, name: '  ｓａｔｏ   hanako ' }))
      .then([
        {
          type: 'PinUnblockAuthorised',
          data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId: 'c1', pinResets: 2, storeId: 's1', terminalId: 's1/pos-1' },
        },
      ]);
    expect(state.outcomes.get('a0a0a0a0a0a0a0a0')).toEqual({ authorised: true, cardId: 'c1', pinResets: 2 });
  });

  it('refuses, and records the refusal, when the name or the birth date differs', () => {
    const mismatch = refused('identity_mismatch', "the name and birth date do not match the card's registered user");
    spec
      .given(registered)
      .when(ask({ name: 'Sato Taro' }))
      .then([mismatch]);
    spec
      .given(registered)
      .when(ask({ birthDate: '1990-04-02' }))
      .then([mismatch]);
  });

  it('refuses a card head office never issued, and a blacklisted card', () => {
    spec
      .given(registered)
      .when(ask({ cardId: 'c9' }))
      .then([refused('unknown_card', 'card c9 was not issued by head office', 'c9')]);
    const blacklisted: NewDomainEvent[] = [...registered, { type: 'CardBlacklisted', data: { cardId: 'c1', reason: 'lost' } }];
    spec
      .given(blacklisted)
      .when(ask())
      .then([refused('card_blacklisted', 'card c1 is reported lost or stolen: its PIN is not unblocked')]);
    spec
      .given([...blacklisted, { type: 'CardReinstated', data: { cardId: 'c1', reason: 'found' } }])
      .when(ask())
      .then([
        {
          type: 'PinUnblockAuthorised',
          data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId: 'c1', storeId: 's1', terminalId: 's1/pos-1' },
        },
      ]);
  });

  it('decides an authorisation id once: asked again it records nothing; for another card it is refused', () => {
    const decided: NewDomainEvent[] = [
      ...registered,
      { type: 'PinUnblockAuthorised', data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId: 'c1', storeId: 's1', terminalId: 's1/pos-1' } },
    ];
    spec
      .given(decided)
      .when(ask({ name: 'Someone Else' }))
      .then([]);
    spec
      .given(decided)
      .when(ask({ cardId: 'c2' }))
      .thenThrows({ code: 'bad_request' });
  });

  it('checks no more identities for a card after five mismatches within a day, until the first of them is a day old', () => {
    // The decision's facts as head office folds them: each event with when it happened.
    type Fact = { event: DomainEvent; atMs: number };
    const timed = DeciderSpecification.forFacts(
      {
        initialState: initialPinUnblockState,
        evolve: (state, fact: Fact) => evolvePinUnblock(state, fact.event, fact.atMs),
        decide: decidePinUnblock,
      },
      (event) => ({ event, atMs: NOW }),
    );
    const at = (event: NewDomainEvent, atMs: number): Fact => ({ event: decodeEvent(event.type, encodeEvent(event)), atMs });
    const mismatch = refused('identity_mismatch', "the name and birth date do not match the card's registered user");
    const mismatches = [20, 10, 3, 2, 1].map((hoursAgo, i) =>
      at({ ...mismatch, data: { ...mismatch.data, authorizationId: `b${i}` } } as NewDomainEvent, NOW - hoursAgo * HOUR),
    );
    const given = [...registered.map((event) => at(event, 0)), ...mismatches];
    timed
      .given(given)
      .when(ask())
      .then([
        refused(
          'too_many_attempts',
          `5 identity checks of card c1 failed within a day: head office checks no more before ${new Date(NOW + 4 * HOUR).toISOString()}`,
        ),
      ]);
    // The oldest mismatch is a day old: one more check is taken, and the right identity passes.
    timed
      .given(given)
      .when(ask({ nowMs: NOW - 20 * HOUR + IDENTITY_CHECK_WINDOW_MS }))
      .then([
        {
          type: 'PinUnblockAuthorised',
          data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId: 'c1', storeId: 's1', terminalId: 's1/pos-1' },
        },
      ]);
    // An authorised unblock starts the count again.
    const authorised = at({ type: 'PinUnblockAuthorised', data: { authorizationId: 'b9', cardId: 'c1' } }, NOW - HOUR / 2);
    timed
      .given([...given, authorised])
      .when(ask())
      .then([
        {
          type: 'PinUnblockAuthorised',
          data: { authorizationId: 'a0a0a0a0a0a0a0a0', cardId: 'c1', storeId: 's1', terminalId: 's1/pos-1' },
        },
      ]);
  });

  it('refuses a request without a name or with a birth date that is not YYYY-MM-DD', () => {
    spec
      .given(registered)
      .when(ask({ name: '  ' }))
      .thenThrows({ code: 'bad_request' });
    spec
      .given(registered)
      .when(ask({ birthDate: '01/04/1990' }))
      .thenThrows({ code: 'bad_request' });
  });

  it('compares names as written on a form: width, case and spacing aside, nothing else', () => {
    expect(sameName('ｻﾄｳ ﾊﾅｺ', 'サトウ ハナコ')).toBe(true);
    expect(sameName('Sato  Hanako', 'sato hanako')).toBe(true);
    expect(sameName('Sato Hanako', 'Sato Hanak')).toBe(false);
  });
});
