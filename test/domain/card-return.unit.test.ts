import { describe, expect, it } from 'vitest';
import type { NewDomainEvent } from '../../contracts/index.js';
import { DEFAULT_LOAD_LIMITS, cardReturnDecider, inquiryDecider, type ChipRecord, type ChipView } from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.for(cardReturnDecider);
const BANK = '00012345678901';
const NOW = 1_700_000_000_000;
const opened: NewDomainEvent[] = [
  { type: 'BankAccountOpened', data: { bankId: BANK, balance: 50_000 } },
  { type: 'CardPrimaryIssued', data: { cardId: 'card-1', userId: 'user-1', bankId: BANK, expiry: '2030-12-31', keyVersion: 1 } },
];
const movement = (type: 'PurseLoaded' | 'PursePaid', amount: number, newBalance: number, cardCounter: number): NewDomainEvent => ({
  type,
  data: { cardId: 'card-1', amount, newBalance, cardCounter, storeId: 's1', terminalId: 'pos-1' },
});
// Loaded ¥10,000 at counter 1, paid ¥2,500 at counter 2: head office holds ¥7,500 at counter 2.
const used = [...opened, movement('PurseLoaded', 10_000, 10_000, 1), movement('PursePaid', 2_500, 7_500, 2)];
const noLog: ChipView = { storeId: 's1', cardCounter: 2, records: [], logCoversFromCounter: 1 };
const authorise = {
  kind: 'authorise_unload',
  authorizationId: 'ret-1',
  cardId: 'card-1',
  bankId: BANK,
  cardCounter: 2,
  cardBalance: 7_500,
  chip: noLog,
  storeId: 's1',
  terminalId: 'pos-1',
  nowMs: NOW,
} as const;
const authorised: NewDomainEvent = {
  type: 'UnloadAuthorised',
  data: {
    authorizationId: 'ret-1',
    cardId: 'card-1',
    bankId: BANK,
    amount: 7_500,
    cardCounter: 2,
    storeId: 's1',
    terminalId: 'pos-1',
    authorisedAtMs: NOW,
    lostCard: false,
  },
};
const unloaded: NewDomainEvent = {
  type: 'PurseUnloaded',
  data: { cardId: 'card-1', authorizationId: 'ret-1', amount: 7_500, cardCounter: 3, storeId: 's1', terminalId: 'pos-1' },
};
const recordUnload = {
  kind: 'record_unload',
  cardId: 'card-1',
  authorizationId: 'ret-1',
  amount: 7_500,
  cardCounter: 3,
  storeId: 's1',
} as const;
const credited: NewDomainEvent = {
  type: 'BankAccountCredited',
  data: { bankId: BANK, authorizationId: 'ret-1', amount: 7_500, newBalance: 57_500, cardId: 'card-1' },
};
const closed: NewDomainEvent = {
  type: 'CardClosed',
  data: { cardId: 'card-1', userId: 'user-1', reason: 'returned', storeId: 's1', authorizationId: 'ret-1', unloadedAmount: 7_500 },
};

describe('card return at head office', () => {
  it('authorises the unload of the balance head office holds for the card at its counter', () => {
    spec.given(used).when(authorise).then([authorised]);
  });

  it('is idempotent by authorisation id, and gives one authorisation per card counter', () => {
    spec
      .given([...used, authorised])
      .when(authorise)
      .then([]);
    // A terminal that lost the answer asks again with a new id: the one given at the counter stands.
    spec
      .given([...used, authorised])
      .when({ ...authorise, authorizationId: 'ret-2' })
      .then([]);
    spec
      .given([...used, authorised])
      .when({ ...authorise, cardCounter: 3 })
      .thenThrows({ code: 'authorisation_conflict' });
  });

  it('refuses a balance that is not the one head office holds at that counter, or a reading older than it', () => {
    spec
      .given(used)
      .when({ ...authorise, cardBalance: 9_000 })
      .thenThrows({ code: 'balance_mismatch' });
    spec
      .given(used)
      .when({ ...authorise, cardCounter: 1, cardBalance: 10_000 })
      .thenThrows({ code: 'balance_mismatch' });
  });

  it("past head office's last record of the card, believes the chip's MACed record at the counter, within what was loaded", () => {
    const paid: ChipRecord = {
      operation: 'debit',
      amount: 500,
      cardCounter: 3,
      newBalance: 7_000,
      terminalId: new Uint8Array(8),
      cardMac: new Uint8Array(8),
    };
    const chip: ChipView = { ...noLog, cardCounter: 3, records: [paid] };
    const ahead = { ...authorise, cardCounter: 3, cardBalance: 7_000, chip };
    spec
      .given(used)
      .when(ahead)
      .then([{ ...authorised, data: { ...authorised.data, amount: 7_000, cardCounter: 3 } }]);
    spec
      .given(used)
      .when({ ...ahead, chip: noLog })
      .thenThrows({ code: 'balance_unverified' });
    // A chip claiming more than head office's balance and the loads it authorised since.
    const inflated = { ...paid, newBalance: 12_000 };
    spec
      .given(used)
      .when({ ...ahead, cardBalance: 12_000, chip: { ...chip, records: [inflated] } })
      .thenThrows({ code: 'balance_mismatch' });
  });

  it('refuses blacklisted, closed, unknown and other-account cards, and a card with a load still open', () => {
    spec
      .given([...used, { type: 'CardBlacklisted', data: { cardId: 'card-1', reason: 'lost' } }])
      .when(authorise)
      .thenThrows({ code: 'blacklisted' });
    spec
      .given([...used, authorised, unloaded, credited, closed])
      .when({ ...authorise, authorizationId: 'ret-2', cardCounter: 3, cardBalance: 0 })
      .thenThrows({ code: 'card_closed' });
    spec
      .given(used)
      .when({ ...authorise, cardId: 'card-9' })
      .thenThrows({ code: 'unknown_card' });
    spec
      .given(used)
      .when({ ...authorise, bankId: '00019999999999' })
      .thenThrows({ code: 'card_mismatch' });
    const loadOpen: NewDomainEvent = {
      type: 'LoadAuthorised',
      data: {
        authorizationId: 'load-1',
        cardId: 'card-1',
        bankId: BANK,
        amount: 1_000,
        cardCounter: 2,
        deadlineMs: NOW + 60_000,
        storeId: 's1',
      },
    };
    spec
      .given([...used, loadOpen])
      .when(authorise)
      .thenThrows({ code: 'card_busy' });
  });

  it('credits the account with what the chip unloaded and closes the card, once', () => {
    const state = spec
      .given([...used, authorised, unloaded])
      .when(recordUnload)
      .then([credited, closed]);
    expect(state.inquiry.accounts.get(BANK)?.balance).toBe(57_500);
    expect(state.inquiry.cardBalances.get('card-1')).toEqual({ cardCounter: 3, balance: 0 });
    spec
      .given([...used, authorised, unloaded, credited, closed])
      .when(recordUnload)
      .then([]);
  });

  it('names an unload read back from a terminated card by its counter', () => {
    spec
      .given([...used, authorised])
      .when({ ...recordUnload, authorizationId: '' })
      .then([credited, closed]);
  });

  it('refuses an unload it never authorised at that counter', () => {
    spec
      .given([...used, authorised])
      .when({ ...recordUnload, cardCounter: 5 })
      .thenThrows({ code: 'unknown_authorisation' });
    spec
      .given([...used, authorised])
      .when({ ...recordUnload, authorizationId: 'ret-9' })
      .thenThrows({ code: 'unknown_authorisation' });
  });
});

describe('a card reported lost, presented at a store', () => {
  const blacklisted: NewDomainEvent = { type: 'CardBlacklisted', data: { cardId: 'card-1', reason: 'lost on the train' } };
  const reported: NewDomainEvent = {
    type: 'CardReportedLost',
    data: { cardId: 'card-1', userId: 'user-1', reportedAtMs: NOW - 1, reportedBy: 'clerk:c1', reason: 'lost on the train' },
  };
  const lost = [...used, blacklisted, reported];
  // The chip's ¥6,300 at counter 3 (a pay head office has not seen): nothing is paid out, so it is not checked.
  const capture = { ...authorise, cardCounter: 3, cardBalance: 6_300, lostCard: true } as const;
  const captured: NewDomainEvent = { ...authorised, data: { ...authorised.data, amount: 6_300, cardCounter: 3, lostCard: true } };

  it('is terminated without its holder and closed as lost, no account credited', () => {
    spec.given(lost).when(capture).then([captured]);
    spec
      .given([...lost, captured])
      .when({ ...capture, authorizationId: 'ret-2' })
      .then([]);
    const unloadedLost: NewDomainEvent = { ...unloaded, data: { ...unloaded.data, amount: 6_300, cardCounter: 4 } };
    const state = spec
      .given([...lost, captured, unloadedLost])
      .when({ ...recordUnload, amount: 6_300, cardCounter: 4 })
      .then([{ type: 'CardClosed', data: { ...closed.data, reason: 'lost', unloadedAmount: 6_300 } }]);
    expect(state.inquiry.accounts.get(BANK)?.balance).toBe(50_000);
  });

  it('is not captured when only blacklisted, and is not returned at a counter', () => {
    spec
      .given([...used, blacklisted])
      .when(capture)
      .thenThrows({ code: 'not_reported_lost' });
    spec.given(used).when(capture).thenThrows({ code: 'not_reported_lost' });
    spec.given(lost).when(authorise).thenThrows({ code: 'blacklisted' });
  });
});

describe('loads of a returned card', () => {
  it('are refused: the card is closed', () => {
    DeciderSpecification.for(inquiryDecider)
      .given([...used, authorised, unloaded, credited, closed])
      .when({
        kind: 'authorise',
        authorizationId: 'load-2',
        cardId: 'card-1',
        bankId: BANK,
        amount: 1_000,
        cardCounter: 3,
        storeId: 's1',
        terminalId: 'pos-1',
        nowMs: NOW,
        validForMs: 30_000,
        cardBalance: 0,
        limits: DEFAULT_LOAD_LIMITS,
      })
      .thenThrows({ code: 'card_closed' });
  });
});
