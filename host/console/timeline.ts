import type { TimelineEntry } from '../../contracts/index.js';
import type { EventView } from '../api/index.js';

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : null);
const amount = (value: unknown) => (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value)) ? Number(value) : null);

/** Picks the fields every role may see; anything else an event carries is left out. */
export function timelineEntry(event: EventView): TimelineEntry {
  const data = (event.data ?? {}) as Record<string, unknown>;
  return {
    type: event.type,
    occurredAt: event.occurredAt,
    origin: event.origin,
    originSeq: event.originSeq,
    storeId: text(data.storeId) ?? (event.origin === 'hq' ? null : event.origin),
    terminalId: text(data.terminalId),
    amount: amount(data.amount),
    balanceAfter: amount(data.newBalance) ?? amount(data.balance),
    counter: amount(data.cardCounter),
    reason: text(data.reason) ?? text(data.state) ?? text(data.note),
    operation: text(data.operation),
    recovered: data.recovered === true,
    authorizationId: text(data.authorizationId),
  };
}
