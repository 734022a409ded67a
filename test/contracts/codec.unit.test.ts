import { describe, expect, it } from 'vitest';
import { ContractError, decodeBatch, decodeEnvelope, decodeEvent, encodeEnvelope, encodeEvent } from '../../contracts/index.js';

describe('event codec', () => {
  it('round-trips a domain event with 64-bit fields as plain numbers', () => {
    const bytes = encodeEvent({ type: 'PursePaid', data: { cardId: 'c-1', amount: 5500, newBalance: 7500, cardCounter: 2 ** 40 } });
    const event = decodeEvent('PursePaid', bytes);
    expect(event.type).toBe('PursePaid');
    expect(event.data).toMatchObject({ cardId: 'c-1', amount: 5500, newBalance: 7500, cardCounter: 2 ** 40 });
  });

  it('round-trips an envelope', () => {
    const envelope = {
      eventId: 'e-1',
      storeId: 'A',
      storeSeq: 7,
      occurredAtMs: 1_795_000_000_000,
      eventType: 'PursePaid',
      streamId: 'card-1',
    };
    expect(decodeEnvelope(encodeEnvelope(envelope))).toMatchObject(envelope);
  });

  it('names an unknown event type', () => {
    expect(() => decodeEvent('PurseStolen', new Uint8Array())).toThrow(new ContractError('unknown event type "PurseStolen"'));
  });

  it('turns malformed protobuf into a ContractError naming what was decoded', () => {
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f]);
    expect(() => decodeEvent('PursePaid', garbage)).toThrow(/malformed PursePaid payload/);
    expect(() => decodeEnvelope(garbage)).toThrow(/malformed EventEnvelope/);
    expect(() => decodeBatch(garbage)).toThrow(ContractError);
  });
});
