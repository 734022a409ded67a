// The checks a store's batch must pass before any of it reaches the host event store.
import type { KeyObject } from 'node:crypto';
import { decodeEnvelope, mayWrite, type ChainHead, type EventBatch, type EventEnvelope } from '../../contracts/index.js';
import { hashEnvelope, verifyHead } from '../../contracts/index.js';
import { equalBytes } from '../../card/index.js';

export interface StoreKeys {
  /** The store's registered public key with this key id, if any. */
  publicKey(storeId: string, keyId: string): Promise<KeyObject | undefined>;
}

export interface CheckedEnvelope {
  envelope: EventEnvelope;
  bytes: Uint8Array;
  hash: Uint8Array;
}

export type BatchVerdict =
  /** `fresh` continues the stored chain; events already stored were left out. */
  | { kind: 'accept'; fresh: CheckedEnvelope[]; head: ChainHead; range: string }
  /** Everything in it is stored already. */
  | { kind: 'duplicate'; range: string }
  | { kind: 'refuse'; reason: string; range: string; eventType?: string };

export async function checkBatch(
  storeId: string,
  batch: EventBatch,
  stored: { lastSeq: number; lastHash: Uint8Array },
  storeKeys: StoreKeys,
): Promise<BatchVerdict> {
  let range = 'empty';
  const refuse = (reason: string, eventType?: string): BatchVerdict => ({
    kind: 'refuse',
    reason,
    range,
    ...(eventType ? { eventType } : {}),
  });
  if (batch.storeId !== storeId) return refuse(`batch names store "${batch.storeId}" but came on the subject of store "${storeId}"`);
  if (batch.events.length === 0) return refuse('batch holds no events');

  const checked: CheckedEnvelope[] = [];
  for (const [index, bytes] of batch.events.entries()) {
    let envelope: EventEnvelope;
    try {
      envelope = decodeEnvelope(bytes);
    } catch (error) {
      return refuse(`event ${index + 1} of the batch: ${(error as Error).message}`);
    }
    const previous = checked.at(-1);
    if (envelope.storeId !== storeId) return refuse(`event ${index + 1} of the batch belongs to store "${envelope.storeId}"`);
    if (!mayWrite(storeId, envelope.eventType)) {
      return refuse(
        `sequence ${envelope.storeSeq} is a ${envelope.eventType || '(no type)'}: a store may not write that event type`,
        envelope.eventType,
      );
    }
    if (previous && envelope.storeSeq !== previous.envelope.storeSeq + 1) {
      return refuse(`sequence ${envelope.storeSeq} follows ${previous.envelope.storeSeq} inside the batch`);
    }
    if (previous && !equalBytes(envelope.prevHash, previous.hash))
      return refuse(`hash chain broken inside the batch at sequence ${envelope.storeSeq}`);
    checked.push({ envelope, bytes, hash: hashEnvelope(bytes) });
  }
  const first = checked[0]!;
  const last = checked.at(-1)!;
  range = `${first.envelope.storeSeq}-${last.envelope.storeSeq}`;

  if (!batch.head) return refuse('batch has no signed chain head');
  // A decoded message has every field, set or defaulted.
  const head = batch.head as ChainHead;
  if (head.storeId !== storeId || head.storeSeq !== last.envelope.storeSeq || !equalBytes(head.hash, last.hash)) {
    return refuse(`signed head (store "${head.storeId}", sequence ${head.storeSeq}) does not cover the batch's last event`);
  }
  const key = await storeKeys.publicKey(storeId, head.keyId);
  if (!key) return refuse(`store key "${head.keyId}" is not registered for store "${storeId}"`);
  if (!verifyHead(key, head)) return refuse(`chain head signature does not verify with key "${head.keyId}"`);

  const fresh = checked.filter((item) => item.envelope.storeSeq > stored.lastSeq);
  const firstFresh = fresh[0];
  if (!firstFresh) return { kind: 'duplicate', range };
  if (firstFresh.envelope.storeSeq !== stored.lastSeq + 1) {
    return refuse(`sequence gap: head office has up to ${stored.lastSeq}, batch continues at ${firstFresh.envelope.storeSeq}`);
  }
  if (!equalBytes(firstFresh.envelope.prevHash, stored.lastHash)) {
    return refuse(
      `hash chain broken at sequence ${firstFresh.envelope.storeSeq}: its prev_hash is not the hash of stored event ${stored.lastSeq}`,
    );
  }
  return { kind: 'accept', fresh, head, range };
}
