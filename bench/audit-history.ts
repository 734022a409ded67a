// A large, valid, signed history written straight into an SQLite host event store, the way the
// ingest and head office's writer would have left it: per-store chains in signed batches, head
// office's chain with the store keys and one account debit per load, cards loaded and paid with
// genuine card MACs. For the audit benchmark and the audit's own fast tests.
import { randomBytes, randomUUID } from 'node:crypto';
import { HQ_ORIGIN } from '../contracts/index.js';
import {
  GENESIS_HASH,
  generateSigningKey,
  rawPublicKey,
  sealEnvelope,
  signHead,
  type EventInput,
  type SigningKey,
} from '../contracts/index.js';
import { fromHex, generateIssuerMasterKeys, toHex, type IssuerMasterKeys } from '../card/index.js';
import type { NewRecord } from '../eventstore/index.js';
import { SqliteEventStore } from '../eventstore/index.js';
import { CardMacs } from '../audit/index.js';
import { chainHeadRecord, originStreamName } from '../eventstore/index.js';

export interface SignedHistoryOptions {
  file: string;
  /** Store events to write (head office's debits and registrations come on top). */
  events: number;
  stores?: number;
  cardsPerStore?: number;
  /** Store events per signed batch. */
  batchSize?: number;
}

export interface SignedHistory {
  file: string;
  hqKey: SigningKey;
  storeKeys: Map<string, SigningKey>;
  issuerKeys: IssuerMasterKeys;
  /** Records written, heads included. */
  records: number;
  storeEvents: number;
  hqEvents: number;
}

interface Card {
  id: string;
  balance: number;
  counter: number;
  bankId: string;
}

class Origin {
  seq = 0;
  hash: Uint8Array = GENESIS_HASH;
  constructor(
    readonly id: string,
    readonly key: SigningKey,
  ) {}

  /** The records of one append: the envelopes and the signed head that closes it. */
  seal(inputs: EventInput[]): NewRecord[] {
    const records: NewRecord[] = [];
    for (const input of inputs) {
      const sealed = sealEnvelope(this.id, ++this.seq, this.hash, input);
      this.hash = sealed.hash;
      records.push({ id: sealed.envelope.eventId, type: sealed.envelope.eventType, data: sealed.bytes });
    }
    const head = signHead(this.key, { storeId: this.id, storeSeq: this.seq, hash: this.hash });
    records.push(chainHeadRecord(head, this.seq));
    return records;
  }
}

const TERMINAL = toHex(randomBytes(8));
const TERMINAL_BYTES = fromHex(TERMINAL);

export async function writeSignedHistory(options: SignedHistoryOptions): Promise<SignedHistory> {
  const storeCount = options.stores ?? 8;
  const cardsPerStore = options.cardsPerStore ?? 500;
  const batchSize = options.batchSize ?? 1_000;
  const issuerKeys = generateIssuerMasterKeys(1);
  const cardMacs = new CardMacs(issuerKeys.transaction);
  const hq = new Origin(HQ_ORIGIN, generateSigningKey());
  const stores = Array.from({ length: storeCount }, (_, i) => new Origin(`store${String(i + 1).padStart(2, '0')}`, generateSigningKey()));
  const cards = new Map<string, Card[]>(
    stores.map((store) => [
      store.id,
      Array.from({ length: cardsPerStore }, () => {
        return {
          id: toHex(randomBytes(8)),
          balance: 0,
          counter: 0,
          bankId: `0001001${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
        };
      }),
    ]),
  );
  const store = SqliteEventStore.open(options.file);
  const revisions = new Map<string, bigint | 'no_stream'>();
  let records = 0;
  let hqEvents = 0;
  const append = async (origin: Origin, inputs: EventInput[]) => {
    const stream = originStreamName(origin.id);
    const batch = origin.seal(inputs);
    const result = await store.appendToStream(stream, batch, revisions.get(stream) ?? 'no_stream');
    revisions.set(stream, result.nextExpectedRevision);
    records += batch.length;
  };
  try {
    const registrations: EventInput[] = stores.flatMap((s) => [
      { streamId: `store-${s.id}`, event: { type: 'StoreRegistered' as const, data: { storeId: s.id, name: `Store ${s.id}` } } },
      {
        streamId: `store-${s.id}`,
        event: {
          type: 'StoreKeyRegistered' as const,
          data: { storeId: s.id, keyId: s.key.keyId, publicKey: rawPublicKey(s.key.publicKey) },
        },
      },
    ]);
    await append(hq, registrations);
    hqEvents += registrations.length;
    let written = 0;
    let turn = 0;
    while (written < options.events) {
      const origin = stores[turn++ % stores.length]!;
      const storeCards = cards.get(origin.id)!;
      const count = Math.min(batchSize, options.events - written);
      const inputs: EventInput[] = [];
      const debits: EventInput[] = [];
      for (let i = 0; i < count; i++) {
        const card = storeCards[Math.floor(Math.random() * storeCards.length)]!;
        const load = card.balance < 2_000;
        const amount = load ? 10_000 : 100 + Math.floor(Math.random() * 1_900);
        card.counter += 1;
        card.balance += load ? amount : -amount;
        const mac = cardMacs.mac(card.id, {
          operation: load ? 'credit' : 'debit',
          counter: card.counter,
          amount,
          newBalance: card.balance,
          terminalId: TERMINAL_BYTES,
        });
        const common = {
          cardId: card.id,
          amount,
          newBalance: card.balance,
          cardCounter: card.counter,
          cardMac: mac,
          storeId: origin.id,
          terminalId: TERMINAL,
        };
        if (load) {
          const authorizationId = toHex(randomBytes(8));
          debits.push({
            streamId: `account-${card.bankId}`,
            event: {
              type: 'BankAccountDebited',
              data: { bankId: card.bankId, authorizationId, amount, newBalance: 1_000_000, cardId: card.id },
            },
          });
          inputs.push({
            streamId: `card-${card.id}`,
            commandId: randomUUID(),
            event: { type: 'PurseLoaded', data: { ...common, authorizationId } },
          });
        } else {
          inputs.push({ streamId: `card-${card.id}`, commandId: randomUUID(), event: { type: 'PursePaid', data: common } });
        }
      }
      if (debits.length > 0) {
        await append(hq, debits);
        hqEvents += debits.length;
      }
      await append(origin, inputs);
      written += count;
    }
  } finally {
    await store.close();
  }
  return {
    file: options.file,
    hqKey: hq.key,
    storeKeys: new Map(stores.map((s) => [s.id, s.key])),
    issuerKeys,
    records,
    storeEvents: options.events,
    hqEvents,
  };
}
