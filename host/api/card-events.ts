import type { EventStore } from '../../eventstore/index.js';
import { decodeRecord } from '../../eventstore/index.js';
import type { ReadModelQueries } from '../../projections/index.js';
import { type EventView, eventView } from './event-view.js';

/** A page of a card's events from the host event store, oldest first, as the read models index them; `next` pages on. */
export async function cardEvents(
  queries: ReadModelQueries,
  store: EventStore,
  cardId: string,
  page: { after?: bigint; limit: number },
): Promise<{ events: EventView[]; next: string | null }> {
  const positions = queries.cardEventPositions(cardId, page);
  const events: EventView[] = [];
  for (const position of positions) {
    const [record] = await store.readAll({ after: position - 1n, maxCount: 1 });
    if (!record || record.position !== position)
      throw new Error(`event store has no event at position ${position}, which the read models index for card ${cardId}`);
    const view = eventView(decodeRecord(record)!);
    if (view) events.push(view);
  }
  const last = positions.at(-1);
  return { events, next: positions.length === page.limit && last !== undefined ? last.toString() : null };
}
