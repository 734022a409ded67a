import { describe, expect, it } from 'vitest';
import { GENESIS_HASH, newEventId, sealEnvelope } from '../../contracts/index.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  it('are version 7 UUIDs whose first 48 bits are the milliseconds they were made at', () => {
    const at = Date.UTC(2026, 11, 2, 10, 30);
    const id = newEventId(at);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replace('-', '').slice(0, 12), 16)).toBe(at);
  });

  it('sort in the order of the milliseconds they were made at, and never repeat', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => newEventId(1_800_000_000_000 + i));
    expect([...ids].sort()).toEqual(ids);
    const sameMillisecond = Array.from({ length: 10_000 }, () => newEventId(1_800_000_000_000));
    expect(new Set(sameMillisecond).size).toBe(sameMillisecond.length);
  });

  it('are what a sealed envelope carries', () => {
    const before = Date.now();
    const { envelope } = sealEnvelope('s1', 1, GENESIS_HASH, {
      streamId: 'store-s1',
      event: { type: 'StoreRegistered', data: { storeId: 's1', name: 'Shop' } },
    });
    expect(envelope.eventId).toMatch(UUID_V7);
    expect(Number.parseInt(envelope.eventId.replace('-', '').slice(0, 12), 16)).toBeGreaterThanOrEqual(before);
  });
});
