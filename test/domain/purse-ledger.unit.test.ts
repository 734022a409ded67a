import { describe, expect, it } from 'vitest';
import {
  anchoredLedger,
  applyMovement,
  applyMovementInPlace,
  newCardLedger,
  type CardLedger,
  type PurseMovement,
} from '../../domain/index.js';

const load = (amount: number, newBalance: number, counter: number, authorizationId: string): PurseMovement => ({
  kind: 'load',
  cardId: 'c1',
  amount,
  newBalance,
  counter,
  macValid: true,
  atMs: counter * 1000,
  storeId: 's1',
  authorizationId,
});
const pay = (amount: number, newBalance: number, counter: number): PurseMovement => ({
  kind: 'pay',
  cardId: 'c1',
  amount,
  newBalance,
  counter,
  macValid: true,
  atMs: counter * 1000,
  storeId: 's1',
});
const debit = (amount: number) => ({ cardId: 'c1', amount, reversed: false });

function run(movements: Array<[PurseMovement, ReturnType<typeof debit> | undefined]>): { card: CardLedger; kinds: string[] } {
  let card = newCardLedger('c1');
  const kinds: string[] = [];
  for (const [movement, facts] of movements) {
    const step = applyMovement(card, movement, facts);
    card = step.card;
    kinds.push(...step.divergences.map((d) => d.kind));
  }
  return { card, kinds };
}

describe('purse ledger rules', () => {
  it('the worked example: 3,000 + 10,000 = 13,000, pay 5,500 leaves 7,500, no divergence', () => {
    const { card, kinds } = run([
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [load(10_000, 13_000, 2, 'a2'), debit(10_000)],
      [pay(5_500, 7_500, 3), undefined],
    ]);
    expect(kinds).toEqual([]);
    expect(card).toMatchObject({ balance: 7_500, counter: 3, loads: 2, loadedTotal: 13_000, pays: 1, paidTotal: 5_500, lastUseMs: 3_000 });
  });

  it('a MAC that fails is refused and leaves the shadow untouched', () => {
    const before = run([[load(3_000, 3_000, 1, 'a1'), debit(3_000)]]).card;
    const step = applyMovement(before, { ...pay(100, 2_900, 2), macValid: false }, undefined);
    expect(step.applied).toBe(false);
    expect(step.card).toBe(before);
    expect(step.divergences.map((d) => d.kind)).toEqual(['mac_invalid']);
  });

  it('a replayed counter is refused; a gap is applied and flagged', () => {
    const before = run([
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [pay(1_000, 2_000, 2), undefined],
    ]).card;
    const replay = applyMovement(before, pay(1_000, 2_000, 2), undefined);
    expect(replay).toMatchObject({ applied: false, card: before });
    expect(replay.divergences.map((d) => d.kind)).toEqual(['counter_repeat']);
    const gap = applyMovement(before, pay(500, 1_000, 4), undefined);
    expect(gap.applied).toBe(true);
    expect(gap.card.counter).toBe(4);
    expect(gap.divergences.map((d) => d.kind)).toEqual(['counter_gap']);
  });

  it('a balance that does not follow is flagged', () => {
    const { kinds, card } = run([
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [pay(1_000, 2_500, 2), undefined],
    ]);
    expect(kinds).toEqual(['balance_mismatch']);
    expect(card.balance).toBe(2_500);
  });

  it('a load without its account debit, with a different amount, or after reversal is flagged', () => {
    expect(run([[load(3_000, 3_000, 1, 'a1'), undefined]]).kinds).toEqual(['load_without_debit']);
    expect(run([[load(3_000, 3_000, 1, 'a1'), debit(2_000)]]).kinds).toEqual(['load_debit_mismatch']);
    expect(run([[load(3_000, 3_000, 1, 'a1'), { ...debit(3_000), reversed: true }]]).kinds).toEqual(['load_after_reversal']);
  });

  it('movements a gap skipped count when they arrive late, without moving the balance back', () => {
    const before = run([
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [pay(500, 2_000, 4), undefined],
    ]).card;
    expect([...before.missingCounters]).toEqual([2, 3]);
    const second = applyMovement(before, pay(200, 2_800, 2), undefined);
    expect(second).toMatchObject({ applied: true, late: true, divergences: [] });
    const third = applyMovement(second.card, pay(300, 2_500, 3), undefined);
    expect(third.card).toMatchObject({ balance: 2_000, counter: 4, pays: 3, paidTotal: 1_000 });
    expect(third.card.missingCounters.size).toBe(0);
    // Once filled, the same counter again is a replay.
    expect(applyMovement(third.card, pay(300, 2_500, 3), undefined).divergences.map((d) => d.kind)).toEqual(['counter_repeat']);
  });

  it('the same load recorded twice (at once, then recovered from the chip) counts once', () => {
    const { card, kinds } = run([
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
    ]);
    expect(kinds).toEqual([]);
    expect(card).toMatchObject({ loads: 1, loadedTotal: 3_000, balance: 3_000 });
  });

  it("applied in place, as the auditor's replay does, the same movements give the same ledger and divergences", () => {
    const movements: Array<[PurseMovement, ReturnType<typeof debit> | undefined]> = [
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [load(3_000, 3_000, 1, 'a1'), debit(3_000)],
      [pay(500, 2_000, 4), undefined],
      [{ ...pay(100, 1_900, 5), macValid: false }, undefined],
      [pay(200, 2_800, 2), undefined],
      [pay(200, 2_800, 2), undefined],
      [load(1_000, 3_100, 5, 'a2'), undefined],
      [pay(300, 2_500, 3), undefined],
    ];
    const pure = run(movements);
    const card = newCardLedger('c1');
    const kinds: string[] = [];
    for (const [movement, facts] of movements) kinds.push(...applyMovementInPlace(card, movement, facts).divergences.map((d) => d.kind));
    expect(kinds).toEqual(pure.kinds);
    expect(card).toEqual(pure.card);
  });

  it('a card first seen mid-history is anchored just before its first movement, which then follows without divergence', () => {
    for (const first of [load(2_000, 5_000, 7, 'a7'), pay(1_000, 4_000, 7)]) {
      const anchored = anchoredLedger(first);
      expect(anchored).toMatchObject({ cardId: 'c1', balance: first.kind === 'load' ? 3_000 : 5_000, counter: 6, loads: 0, pays: 0 });
      const step = applyMovement(anchored, first, first.kind === 'load' ? debit(2_000) : undefined);
      expect(step.divergences).toEqual([]);
      expect(step.card).toMatchObject({ balance: first.newBalance, counter: 7 });
    }
  });

  it("a returned card's unload empties the balance and is counted as no load", () => {
    const unload: PurseMovement = { ...pay(7_500, 0, 3), kind: 'unload' };
    const { card, kinds } = run([
      [load(10_000, 10_000, 1, 'a1'), debit(10_000)],
      [pay(2_500, 7_500, 2), undefined],
      [unload, undefined],
    ]);
    expect(kinds).toEqual([]);
    expect(card).toMatchObject({ balance: 0, counter: 3, loads: 1, loadedTotal: 10_000, pays: 1, paidTotal: 2_500, refunds: 0 });
  });
});
