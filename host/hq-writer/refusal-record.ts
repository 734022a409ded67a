// Refused batches recorded in head office's own stream (StoreBatchRefused), where the store's sync
// view shows them. A store re-sends a refused batch until it is mended, so each distinct refusal
// is recorded once, not at every redelivery.
import type { Logger } from '../../infra/index.js';
import type { HqWriter } from './hq-writer.js';
import type { BatchRefusal } from '../ingest/index.js';

export function recordRefusals(writer: HqWriter, logger: Logger): (refusal: BatchRefusal) => void {
  const lastRecorded = new Map<string, string>();
  return (refusal) => {
    const key = `${refusal.range}|${refusal.reason}`;
    if (lastRecorded.get(refusal.storeId) === key) return;
    lastRecorded.set(refusal.storeId, key);
    writer
      .append([
        {
          event: {
            type: 'StoreBatchRefused',
            data: {
              storeId: refusal.storeId,
              range: refusal.range,
              resendFrom: refusal.resendFrom,
              reason: refusal.reason,
              eventType: refusal.eventType ?? '',
            },
          },
          streamId: `store-${refusal.storeId}`,
        },
      ])
      .catch((error: Error) => {
        lastRecorded.delete(refusal.storeId);
        logger.error(`ingest: cannot record the refusal of store ${refusal.storeId}'s batch ${refusal.range}: ${error.message}`);
      });
  };
}
