import { describe, expect, it } from 'vitest';
import { blacklistDecider } from '../../domain/index.js';
import { DeciderSpecification } from '../../testkit/decider-specification.js';

const spec = DeciderSpecification.for(blacklistDecider);

describe('blacklist', () => {
  it('blacklists a card with a reason, and counts the change', () => {
    const state = spec
      .given([])
      .when({ kind: 'blacklist', cardId: 'c1', reason: ' stolen ', nowMs: 0 })
      .then([{ type: 'CardBlacklisted', data: { cardId: 'c1', reason: 'stolen' } }]);
    expect(state.version).toBe(1);
    expect(state.entries.has('c1')).toBe(true);
  });
  it('refuses an empty reason, a second blacklisting, and reinstating a card not listed', () => {
    spec.given([]).when({ kind: 'blacklist', cardId: 'c1', reason: '  ', nowMs: 0 }).thenThrows({ code: 'reason_required' });
    spec
      .given([{ type: 'CardBlacklisted', data: { cardId: 'c1', reason: 'lost' } }])
      .when({ kind: 'blacklist', cardId: 'c1', reason: 'x', nowMs: 0 })
      .thenThrows({ code: 'already_blacklisted' });
    spec.given([]).when({ kind: 'reinstate', cardId: 'c1', reason: 'found', nowMs: 0 }).thenThrows({ code: 'not_blacklisted' });
  });
  it('reinstates a listed card', () => {
    const state = spec
      .given([{ type: 'CardBlacklisted', data: { cardId: 'c1', reason: 'lost' } }])
      .when({ kind: 'reinstate', cardId: 'c1', reason: 'found', nowMs: 0 })
      .then([{ type: 'CardReinstated', data: { cardId: 'c1', reason: 'found' } }]);
    expect(state).toMatchObject({ version: 2 });
    expect(state.entries.size).toBe(0);
  });
});
