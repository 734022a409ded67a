// Checks card transaction MACs fast. The card's MAC is AES-CMAC over a 48-byte message whose first
// block never changes, under a key per card: so each card's round keys, CMAC subkey and first-block
// state are kept, and a MAC costs two AES block encryptions in plain JavaScript (aes-words.ts), with
// nothing allocated. The message is the card's own (card transactionMac); a check against it on
// first use guards the two from drifting apart.
import { randomBytes } from 'node:crypto';
import {
  cardIdBytes,
  cardKeyInput,
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

/** One card's MAC key, expanded: what `CardMacs.key` gives, for a caller that keeps it with the card. */
export interface CardKey {
  rk: Uint32Array;
  k1: Uint32Array;
  /** CBC state after the first block, the same for every message. */
  first: Uint32Array;
  cardId: Uint32Array;
}

/** x << 1, reduced by 0x87 when the top bit falls off (SP 800-38B): K1 from L, K2 from K1. */
function doubled(x: Uint32Array): Uint32Array {
  const out = new Uint32Array(4);
  for (let i = 0; i < 4; i++) out[i] = ((x[i]! << 1) | (i < 3 ? x[i + 1]! >>> 31 : 0)) >>> 0;
  if (x[0]! >>> 31) out[3] = (out[3]! ^ 0x87) >>> 0;
  return out;
}

/** Round keys and CMAC subkeys of one AES key. */
function cmacKeyOf(key: Uint8Array): { rk: Uint32Array; k1: Uint32Array; k2: Uint32Array } {
  const rk = expandKey(key);
  const l = new Uint32Array(4);
  encryptWords(rk, l, l);
  const k1 = doubled(l);
  return { rk, k1, k2: doubled(k1) };
}

/** AES-CMAC of `message` (any length) as 16 bytes: for card key derivation, under the master's round keys expanded once. */
function cmacBytes(key: { rk: Uint32Array; k1: Uint32Array; k2: Uint32Array }, message: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(message.length / 16));
  const complete = message.length > 0 && message.length % 16 === 0;
  const state = new Uint32Array(4);
  for (let b = 0; b < blocks - 1; b++) {
    const words = wordsOf(message, 16 * b);
    for (let i = 0; i < 4; i++) state[i] = (state[i]! ^ words[i]!) >>> 0;
    encryptWords(key.rk, state, state);
  }
  const last = new Uint8Array(16);
  last.set(message.subarray(16 * (blocks - 1)));
  if (!complete) last[message.length - 16 * (blocks - 1)] = 0x80;
  const words = wordsOf(last);
  const subkey = complete ? key.k1 : key.k2;
  for (let i = 0; i < 4; i++) state[i] = (state[i]! ^ words[i]! ^ subkey[i]!) >>> 0;
  encryptWords(key.rk, state, state);
  const out = new Uint8Array(16);
  for (let i = 0; i < 4; i++) out.set([state[i]! >>> 24, (state[i]! >>> 16) & 0xff, (state[i]! >>> 8) & 0xff, state[i]! & 0xff], 4 * i);
  return out;
}

function cardKey(transactionKey: Uint8Array, cardId: Uint8Array): CardKey {
  const { rk, k1 } = cmacKeyOf(transactionKey);
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

/** Whether the 8 bytes of `mac` from `at` (`length` of them) are the MAC in `block`. */
function sameMac(mac: Uint8Array, at: number, length: number): boolean {
  if (length !== 8 || at + 8 > mac.length) return false;
  const w0 = ((mac[at]! << 24) | (mac[at + 1]! << 16) | (mac[at + 2]! << 8) | mac[at + 3]!) >>> 0;
  const w1 = ((mac[at + 4]! << 24) | (mac[at + 5]! << 16) | (mac[at + 6]! << 8) | mac[at + 7]!) >>> 0;
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
    if (!equalBytes(cmacBytes(cmacKeyOf(key), cardKeyInput(cardId, 'transaction')), deriveCardKey(key, cardId, 'transaction'))) {
      throw new Error('the audit derives card keys differently from the card: update audit/card-macs.ts');
    }
  }
  checkedAgainstCard = true;
}

/** Card MACs under the issuer's transaction master key, each card's key derived once. */
export class CardMacs {
  private readonly cards = new Map<string, CardKey>();
  /** The master's round keys: a card's key is derived in plain JavaScript, not by a cipher object per block. */
  private readonly master: { rk: Uint32Array; k1: Uint32Array; k2: Uint32Array };

  /** `maxCards`: card keys kept; beyond it the cache starts again. */
  constructor(
    transactionMaster: Uint8Array,
    private readonly maxCards = 200_000,
  ) {
    if (!checkedAgainstCard) assertSameAsCard();
    this.master = cmacKeyOf(transactionMaster);
  }

  private card(cardId: string): CardKey {
    let card = this.cards.get(cardId);
    if (card === undefined) {
      if (this.cards.size >= this.maxCards) this.cards.clear();
      const idBytes = cardIdBytes(cardId);
      card = cardKey(cmacBytes(this.master, cardKeyInput(idBytes, 'transaction')), idBytes);
      this.cards.set(cardId, card);
    }
    return card;
  }

  /** The MAC the card makes over the transaction (8 bytes). Throws for a malformed card id. */
  mac(cardId: string, transaction: CardTransaction): Uint8Array {
    macInto(this.card(cardId), transaction);
    return macBytes();
  }

  /** The card's key, derived on first use. Throws for a malformed card id. */
  key(cardId: string): CardKey {
    return this.card(cardId);
  }

  /**
   * Whether `mac` is the card's MAC over the transaction; `macAt` and `macLength` say where it
   * lies in `mac` when that is a larger buffer (a payload read in place). `card`: the card's key
   * from `key()`, kept by the caller with the card.
   */
  check(card: CardKey, transaction: CardTransaction & { mac: Uint8Array }, macAt = 0, macLength = transaction.mac.length): boolean {
    macInto(card, transaction);
    return sameMac(transaction.mac, macAt, macLength);
  }
}
