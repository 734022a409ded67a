// Checks card transaction MACs fast. The card's MAC is AES-CMAC over a 48-byte message whose first
// block never changes, under a key per card: so each card's round keys, CMAC subkey and first-block
// state are kept, and a MAC costs two AES block encryptions in plain JavaScript (aes-words.ts), with
// nothing allocated. The message is the card's own (card transactionMac); a check against it on
// first use guards the two from drifting apart.
import { randomBytes } from 'node:crypto';
import {
  cardIdBytes,
  deriveCardKey,
  equalBytes,
  operationCode,
  TRANSACTION_MAC_LABEL,
  transactionMac,
  type PurseOperation,
} from '../card/index.js';
import { assertAesMatchesStandard, encryptWords, expandKey, wordsOf } from './aes-words.js';

const LABEL = TRANSACTION_MAC_LABEL;
/** Bytes 16..18 of the message: the end of the label, before the operation code. */
const LABEL_TAIL = ((LABEL[16]! << 24) | (LABEL[17]! << 16) | (LABEL[18]! << 8)) >>> 0;

export interface CardTransaction {
  operation: PurseOperation;
  counter: number;
  amount: number;
  newBalance: number;
  /** 8 bytes. */
  terminalId: Uint8Array;
}

interface CardKey {
  rk: Uint32Array;
  k1: Uint32Array;
  /** CBC state after the first block, the same for every message. */
  first: Uint32Array;
  cardId: Uint32Array;
}

function cardKey(transactionKey: Uint8Array, cardId: Uint8Array): CardKey {
  const rk = expandKey(transactionKey);
  const l = new Uint32Array(4);
  encryptWords(rk, l, l);
  // K1 = L << 1, reduced by 0x87 when the top bit falls off (SP 800-38B).
  const k1 = new Uint32Array(4);
  for (let i = 0; i < 4; i++) k1[i] = ((l[i]! << 1) | (i < 3 ? l[i + 1]! >>> 31 : 0)) >>> 0;
  if (l[0]! >>> 31) k1[3] = (k1[3]! ^ 0x87) >>> 0;
  const first = wordsOf(LABEL);
  encryptWords(rk, first, first);
  return { rk, k1, first, cardId: wordsOf(Uint8Array.from([...cardId, ...new Uint8Array(8)])) };
}

const block = new Uint32Array(4);

/** The CMAC state of one transaction into `block`; the MAC is its first 8 bytes. */
function macInto(card: CardKey, t: CardTransaction): void {
  // Block 2: "ion", the operation code, the card id, the counter.
  block[0] = (card.first[0]! ^ (LABEL_TAIL | operationCode(t.operation))) >>> 0;
  block[1] = (card.first[1]! ^ card.cardId[0]!) >>> 0;
  block[2] = (card.first[2]! ^ card.cardId[1]!) >>> 0;
  block[3] = (card.first[3]! ^ t.counter) >>> 0;
  encryptWords(card.rk, block, block);
  // Block 3 (the last, complete, so XORed with K1): amount, new balance, terminal id.
  const term = t.terminalId;
  block[0] = (block[0]! ^ t.amount ^ card.k1[0]!) >>> 0;
  block[1] = (block[1]! ^ t.newBalance ^ card.k1[1]!) >>> 0;
  block[2] = (block[2]! ^ ((term[0]! << 24) | (term[1]! << 16) | (term[2]! << 8) | term[3]!) ^ card.k1[2]!) >>> 0;
  block[3] = (block[3]! ^ ((term[4]! << 24) | (term[5]! << 16) | (term[6]! << 8) | term[7]!) ^ card.k1[3]!) >>> 0;
  encryptWords(card.rk, block, block);
}

function macBytes(): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0; i < 2; i++) {
    const w = block[i]!;
    out.set([w >>> 24, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff], 4 * i);
  }
  return out;
}

function sameMac(mac: Uint8Array): boolean {
  if (mac.length !== 8) return false;
  const w0 = ((mac[0]! << 24) | (mac[1]! << 16) | (mac[2]! << 8) | mac[3]!) >>> 0;
  const w1 = ((mac[4]! << 24) | (mac[5]! << 16) | (mac[6]! << 8) | mac[7]!) >>> 0;
  return w0 === block[0] && w1 === block[1];
}

let checkedAgainstCard = false;

/** The fast computation must give the card's own MAC, or the audit would judge wrongly. */
function assertSameAsCard(): void {
  assertAesMatchesStandard();
  for (let i = 0; i < 8; i++) {
    const key = new Uint8Array(randomBytes(16));
    const cardId = new Uint8Array(randomBytes(8));
    const t: CardTransaction = {
      operation: i % 2 ? 'credit' : 'debit',
      counter: randomBytes(4).readUInt32BE(),
      amount: randomBytes(3).readUIntBE(0, 3),
      newBalance: randomBytes(3).readUIntBE(0, 3),
      terminalId: new Uint8Array(randomBytes(8)),
    };
    macInto(cardKey(key, cardId), t);
    if (!equalBytes(macBytes(), transactionMac(key, t.operation, cardId, t.counter, t.amount, t.newBalance, t.terminalId))) {
      throw new Error('the audit computes card transaction MACs differently from the card: update audit/card-macs.ts');
    }
  }
  checkedAgainstCard = true;
}

/** Card MACs under the issuer's transaction master key, each card's key derived once. */
export class CardMacs {
  private readonly cards = new Map<string, CardKey>();

  /** `maxCards`: card keys kept; beyond it the cache starts again. */
  constructor(
    private readonly transactionMaster: Uint8Array,
    private readonly maxCards = 200_000,
  ) {
    if (!checkedAgainstCard) assertSameAsCard();
  }

  private card(cardId: string): CardKey {
    let card = this.cards.get(cardId);
    if (card === undefined) {
      if (this.cards.size >= this.maxCards) this.cards.clear();
      const idBytes = cardIdBytes(cardId);
      card = cardKey(deriveCardKey(this.transactionMaster, idBytes, 'transaction'), idBytes);
      this.cards.set(cardId, card);
    }
    return card;
  }

  /** The MAC the card makes over the transaction (8 bytes). Throws for a malformed card id. */
  mac(cardId: string, transaction: CardTransaction): Uint8Array {
    macInto(this.card(cardId), transaction);
    return macBytes();
  }

  /** Whether `mac` is the card's MAC over the transaction. */
  check(cardId: string, transaction: CardTransaction & { mac: Uint8Array }): boolean {
    macInto(this.card(cardId), transaction);
    return sameMac(transaction.mac);
  }
}
