import { describe, expect, it } from 'vitest';
import { checkCardUsable, decideLoad, decidePay, MAX_PURSE_BALANCE, type CardFacts } from '../../domain/index.js';

const card: CardFacts = {
  cardId: 'c1',
  authCodeValid: true,
  dataMacValid: true,
  expiry: '2030-12-31',
  balance: 13_000,
  blacklisted: false,
  terminated: false,
};
const today = '2026-11-24';

describe('card checks before a purse operation', () => {
  it('a good card passes', () => expect(checkCardUsable(card, today)).toBeUndefined());
  it.each([
    [{ authCodeValid: false }, 'card_unusable'],
    [{ dataMacValid: false }, 'tampered'],
    [{ expiry: '2026-11-23' }, 'expired'],
    [{ blacklisted: true, blacklistReason: 'stolen' }, 'blacklisted'],
    [{ terminated: true }, 'card_terminated'],
  ] as const)('%o is refused as %s', (change, code) => {
    expect(checkCardUsable({ ...card, ...change }, today)?.code).toBe(code);
    expect(decidePay({ ...card, ...change }, 1, today)).toMatchObject({ ok: false, code });
  });
  it('a card is valid through its expiry day', () => expect(checkCardUsable({ ...card, expiry: today }, today)).toBeUndefined());
  it('a card with an expiry month is valid through the month and refused after it', () => {
    expect(checkCardUsable({ ...card, expiry: '2026-11' }, '2026-11-30')).toBeUndefined();
    expect(checkCardUsable({ ...card, expiry: '2026-10' }, today)?.code).toBe('expired');
  });
});

describe('pay and load decisions', () => {
  it('pays within the balance: 13,000 - 5,500 = 7,500', () =>
    expect(decidePay(card, 5_500, today)).toEqual({ ok: true, newBalance: 7_500 }));
  it('declines beyond the balance and shows it', () => {
    const decision = decidePay(card, 13_001, today);
    expect(decision).toMatchObject({ ok: false, code: 'insufficient_balance' });
    expect(decision.ok ? '' : decision.message).toContain('¥13,000');
  });
  it('loads: 3,000 + 10,000 = 13,000; refuses beyond the purse limit', () => {
    expect(decideLoad({ ...card, balance: 3_000 }, 10_000, today)).toEqual({ ok: true, newBalance: 13_000 });
    expect(decideLoad({ ...card, balance: MAX_PURSE_BALANCE }, 1, today)).toMatchObject({ ok: false, code: 'balance_limit' });
  });
});
