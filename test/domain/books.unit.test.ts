import { describe, expect, it } from 'vitest';
import { decodeEvent, encodeEvent, type NewDomainEvent } from '../../contracts/index.js';
import {
  DEPOSIT_THRESHOLD_YEN,
  MOVEMENT_RULES,
  bookedMovementOf,
  capturedLostCardOf,
  depositBaseDates,
  depositDuty,
  replacementFloatMoveOf,
} from '../../domain/index.js';

const read = (event: NewDomainEvent) => decodeEvent(event.type, encodeEvent(event));

describe("the issuer's books", () => {
  it('no deposit at or below ¥10,000,000 unused; above it, at least half, rounded up to the yen', () => {
    expect(DEPOSIT_THRESHOLD_YEN).toBe(10_000_000);
    expect(depositDuty(9_999_999)).toEqual({ exceedsThreshold: false, requiredDeposit: 0 });
    expect(depositDuty(10_000_000)).toEqual({ exceedsThreshold: false, requiredDeposit: 0 });
    expect(depositDuty(10_000_001)).toEqual({ exceedsThreshold: true, requiredDeposit: 5_000_001 });
    expect(depositDuty(25_000_000)).toEqual({ exceedsThreshold: true, requiredDeposit: 12_500_000 });
  });

  it('the base dates are 31 March and 30 September', () => {
    expect(depositBaseDates(2026)).toEqual(['2026-03-31', '2026-09-30']);
  });

  it('the float is loads − pays + refunds − unloads; a store is owed its pays less its refunds', () => {
    expect(Object.fromEntries(Object.entries(MOVEMENT_RULES).map(([kind, rule]) => [kind, rule.floatSign]))).toEqual({
      load: 1,
      pay: -1,
      refund: 1,
      unload: -1,
    });
    expect(Object.fromEntries(Object.entries(MOVEMENT_RULES).map(([kind, rule]) => [kind, rule.clearing ?? null]))).toEqual({
      load: null,
      pay: 'pay',
      refund: 'refund',
      unload: null,
    });
  });

  it('loads and pays are the movements booked today; other events move no value', () => {
    const mac = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    const loaded = read({
      type: 'PurseLoaded',
      data: {
        cardId: 'c',
        amount: 10,
        newBalance: 10,
        cardCounter: 1,
        authorizationId: 'a',
        cardMac: mac,
        storeId: 's',
        terminalId: 'pos-1',
      },
    });
    const paid = read({
      type: 'PursePaid',
      data: { cardId: 'c', amount: 4, newBalance: 6, cardCounter: 2, cardMac: mac, storeId: 's', terminalId: 'pos-1' },
    });
    expect(bookedMovementOf(loaded)).toMatchObject({
      kind: 'load',
      chipOperation: 'credit',
      amount: 10,
      newBalance: 10,
      cardCounter: 1,
      terminalId: 'pos-1',
    });
    expect(bookedMovementOf(paid)).toMatchObject({ kind: 'pay', chipOperation: 'debit', amount: 4, newBalance: 6, cardCounter: 2 });
    expect(bookedMovementOf(read({ type: 'CardBlacklisted', data: { cardId: 'c', reason: 'lost' } }))).toBeUndefined();
  });

  it("a lost card's balance leaves the float with its transfer and each correction; its captured chip's unload is no movement of the float", () => {
    const transferred = read({
      type: 'CardBalanceTransferred',
      data: { oldCardId: 'old', newCardId: 'new', amount: 7_500, oldCardCounter: 1, storesWaitedFor: ['s1'] },
    });
    expect(replacementFloatMoveOf(transferred)).toEqual({ cardId: 'old', floatEffect: -7_500 });
    const adjusted = read({
      type: 'CardReplacementAdjusted',
      data: {
        oldCardId: 'old',
        newCardId: 'new',
        amount: -1_200,
        oldCardCounter: 2,
        oldCardBalance: 6_300,
        storeId: 's2',
        reason: 'late pay',
      },
    });
    // A late ¥1,200 pay of the lost card took it off the float once; the correction puts it back.
    expect(replacementFloatMoveOf(adjusted)).toEqual({ cardId: 'old', floatEffect: 1_200 });
    const unload = (lostCard: boolean) =>
      read({
        type: 'UnloadAuthorised',
        data: {
          authorizationId: 'a',
          cardId: 'old',
          bankId: 'b',
          amount: 6_300,
          cardCounter: 2,
          storeId: 's1',
          terminalId: 't',
          authorisedAtMs: 1,
          lostCard,
        },
      });
    expect(capturedLostCardOf(unload(true))).toBe('old');
    expect(capturedLostCardOf(unload(false))).toBeUndefined();
    expect(replacementFloatMoveOf(unload(true))).toBeUndefined();
  });
});
