// Checks card transaction MACs fast. The card's MAC is AES-CMAC over a 48-byte message whose first
// block never changes, under a key per card: so each card's cipher, CMAC subkey and first-block
// state are kept, and all the card's MACs waiting in a batch run side by side — two AES calls per
// card per batch instead of a new cipher and four calls per MAC. The message is the card's own
// (card transactionMac); a check against it on first use guards the two from drifting apart.
import { createCipheriv, randomBytes, type Cipher } from 'node:crypto';
import { cardIdBytes, deriveCardKey, equalBytes, transactionMac, type PurseOperation } from '../card/index.js';

const BLOCK = 16;
const LABEL = Buffer.from('cardsys/transaction', 'ascii');
const OPERATION_CODE: Record<PurseOperation, number> = { credit: 0x01, debit: 0x02 };

export interface CardTransaction {
  operation: PurseOperation;
  counter: number;
  amount: number;
  newBalance: number;
  /** 8 bytes. */
  terminalId: Uint8Array;
}

interface CardCipher {
  cipher: Cipher;
  cardId: Uint8Array;
  k1: Buffer;
  /** CBC state after the first block, the same for every message. */
  first: Buffer;
}

function shiftLeftXorRb(input: Buffer): Buffer {
  const out = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((input[i]! << 1) | (i + 1 < BLOCK ? input[i + 1]! >> 7 : 0)) & 0xff;
  if (input[0]! & 0x80) out[BLOCK - 1]! ^= 0x87;
  return out;
}

function cardCipher(transactionKey: Uint8Array, cardId: Uint8Array): CardCipher {
  const cipher = createCipheriv('aes-128-ecb', transactionKey, null).setAutoPadding(false);
  const k1 = shiftLeftXorRb(cipher.update(Buffer.alloc(BLOCK)));
  // The message is exactly three blocks, so the last is XORed with K1 and the first is the label's start.
  const first = cipher.update(LABEL.subarray(0, BLOCK));
  return { cipher, cardId, k1, first };
}

/** The 8-byte MACs (as 16-byte CMAC states, tag = first 8 bytes) of one card's transactions. */
function macsOf(card: CardCipher, transactions: readonly CardTransaction[]): Buffer {
  const count = transactions.length;
  const second = Buffer.allocUnsafe(BLOCK * count);
  for (let i = 0; i < count; i++) {
    const t = transactions[i]!;
    const at = i * BLOCK;
    LABEL.copy(second, at, BLOCK);
    second[at + 3] = OPERATION_CODE[t.operation];
    second.set(card.cardId, at + 4);
    second.writeUInt32BE(t.counter >>> 0, at + 12);
    for (let j = 0; j < BLOCK; j++) second[at + j]! ^= card.first[j]!;
  }
  const state = card.cipher.update(second);
  const third = Buffer.allocUnsafe(BLOCK * count);
  for (let i = 0; i < count; i++) {
    const t = transactions[i]!;
    const at = i * BLOCK;
    third.writeUInt32BE(t.amount >>> 0, at);
    third.writeUInt32BE(t.newBalance >>> 0, at + 4);
    third.set(t.terminalId, at + 8);
    for (let j = 0; j < BLOCK; j++) third[at + j]! ^= state[at + j]! ^ card.k1[j]!;
  }
  return card.cipher.update(third);
}

let checkedAgainstCard = false;

/** The fast computation must give the card's own MAC, or the audit would judge wrongly. */
function assertSameAsCard(): void {
  const key = new Uint8Array(randomBytes(16));
  const cardId = new Uint8Array(randomBytes(8));
  const samples: CardTransaction[] = [
    { operation: 'debit', counter: 7, amount: 5_500, newBalance: 7_500, terminalId: new Uint8Array(randomBytes(8)) },
    { operation: 'credit', counter: 0x01020304, amount: 10_000, newBalance: 13_000, terminalId: new Uint8Array(randomBytes(8)) },
  ];
  const states = macsOf(cardCipher(key, cardId), samples);
  samples.forEach((t, i) => {
    const expected = transactionMac(key, t.operation, cardId, t.counter, t.amount, t.newBalance, t.terminalId);
    if (!equalBytes(states.subarray(i * BLOCK, i * BLOCK + 8), expected)) throw new Error('the audit computes card transaction MACs differently from the card: update audit/card-macs.ts');
  });
  checkedAgainstCard = true;
}

/** Card MACs under the issuer's transaction master key, each card's key derived once. */
export class CardMacs {
  private readonly cards = new Map<string, CardCipher>();

  /** `maxCards`: ciphers kept; beyond it the cache starts again. */
  constructor(
    private readonly transactionMaster: Uint8Array,
    private readonly maxCards = 50_000,
  ) {
    if (!checkedAgainstCard) assertSameAsCard();
  }

  private card(cardId: string): CardCipher {
    let card = this.cards.get(cardId);
    if (card === undefined) {
      if (this.cards.size >= this.maxCards) this.cards.clear();
      const idBytes = cardIdBytes(cardId);
      card = cardCipher(deriveCardKey(this.transactionMaster, idBytes, 'transaction'), idBytes);
      this.cards.set(cardId, card);
    }
    return card;
  }

  /** The MAC the card makes over each transaction (8 bytes each). Throws for a malformed card id. */
  macs(cardId: string, transactions: readonly CardTransaction[]): Uint8Array[] {
    const states = macsOf(this.card(cardId), transactions);
    return transactions.map((_, i) => states.subarray(i * BLOCK, i * BLOCK + 8));
  }

  /** Whether each MAC is the card's. */
  verify(cardId: string, transactions: readonly (CardTransaction & { mac: Uint8Array })[]): boolean[] {
    const states = macsOf(this.card(cardId), transactions);
    return transactions.map((t, i) => states.subarray(i * BLOCK, i * BLOCK + 8).equals(t.mac));
  }
}
