// Checks every origin's hash chain and signed heads: gap-free sequences in order, each envelope's
// SHA-256 equal to what its successor and its signed head recorded, each head signed by a key
// registered for its origin, and no event left outside a validly signed head. Events stored out of
// order are put back in order (and named), so the checks after this one see each chain as it was
// written.
import { verifyHead, GENESIS_HASH } from '../contracts/index.js';
import type { ChainHead } from '../contracts/index.js';
import type { EnvelopeView } from './envelope-view.js';
import { CHECKS, type Report } from './findings.js';
import type { KeyRing } from './keys.js';

/** What a chain keeps of an event until a signed head covers it: small, so that the record it came from is not kept. */
interface ChainLink {
  seq: number;
  eventId: string;
  position: bigint;
  /** SHA-256 of the stored bytes, in hex (a string costs far less to make than a Buffer, millions of times). */
  hash: string;
}

/** An event of an origin's chain, handed on in sequence order. */
export interface ChainedEvent extends ChainLink {
  origin: string;
  /** Undefined when the stored bytes are not a well-formed envelope. */
  envelope: EnvelopeView | undefined;
}

const linkOf = ({ seq, eventId, position, hash }: ChainedEvent): ChainLink => ({ seq, eventId, position, hash });

interface SignedHeadRecord {
  head: ChainHead;
  position: bigint;
}

/** How many events of one origin may wait for an earlier sequence before it is declared missing. */
const MAX_WAITING = 10_000;
/** Unsigned events named one by one, per origin; the rest are counted. */
const MAX_UNSIGNED_NAMED = 50;

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

const HEX_DIGITS = '0123456789abcdef';

/** Whether `bytes` are the hash written in lower-case hex, compared without making either form of the other. */
function sameHash(hexHash: string, bytes: Uint8Array): boolean {
  if (hexHash.length !== 2 * bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (
      hexHash.charCodeAt(2 * i) !== HEX_DIGITS.charCodeAt(byte >>> 4) ||
      hexHash.charCodeAt(2 * i + 1) !== HEX_DIGITS.charCodeAt(byte & 15)
    )
      return false;
  }
  return true;
}

class OriginChain {
  /** Last event handed on. */
  last: ChainLink | undefined;
  /** Events since the last validly signed head, by sequence: what a later head must cover. */
  readonly unsigned = new Map<number, ChainLink>();
  /** Events stored ahead of a missing sequence. */
  readonly waiting = new Map<number, ChainedEvent>();
  /** Heads stored while events were waiting: checked once the chain reaches them. */
  heldHeads: SignedHeadRecord[] = [];
  /** Validly signed heads for sequences the chain had not reached when they were read. */
  beyondHeads: SignedHeadRecord[] = [];
  /** Events already named as changed: one finding per event. */
  readonly changed = new Set<number>();
  coveredSeq = 0;
  events = 0;
  heads = 0;
  /** Sequence numbers already declared missing: one arriving later is out of order, not a duplicate. */
  readonly missing = new Set<number>();

  constructor(readonly origin: string) {}
}

export interface ChainSummary {
  origin: string;
  events: number;
  heads: number;
  lastSeq: number;
  /** Last sequence covered by a validly signed head. */
  coveredSeq: number;
}

export interface ChainAuditorOptions {
  keys: KeyRing;
  report: Report;
  /** Receives every event in its origin's sequence order. */
  onEvent: (event: ChainedEvent) => void;
  /**
   * True when the records start at the beginning of the history: an origin's first event must
   * then be sequence 1 on the genesis hash. Otherwise each origin's chain is anchored at its
   * first event read.
   */
  fromGenesis: boolean;
}

export class ChainAuditor {
  private readonly origins = new Map<string, OriginChain>();

  constructor(private readonly options: ChainAuditorOptions) {}

  private chain(origin: string): OriginChain {
    let chain = this.origins.get(origin);
    if (!chain) {
      chain = new OriginChain(origin);
      this.origins.set(origin, chain);
    }
    return chain;
  }

  /** An envelope record of `origin`'s stream, with its hash. */
  event(origin: string, event: ChainedEvent): void {
    const chain = this.chain(origin);
    chain.events += 1;
    const expected = chain.last === undefined ? undefined : chain.last.seq + 1;
    if (expected === undefined || event.seq === expected) {
      if (chain.waiting.size > 0) this.reportStoredLate(chain, event);
      this.accept(chain, event);
      this.drain(chain);
      return;
    }
    if (event.seq > expected) {
      if (chain.waiting.has(event.seq)) {
        this.duplicate(chain, event);
        return;
      }
      chain.waiting.set(event.seq, event);
      if (chain.waiting.size > MAX_WAITING) this.declareMissing(chain);
      return;
    }
    if (chain.missing.has(event.seq)) {
      chain.missing.delete(event.seq);
      this.options.report({
        check: CHECKS.sequenceOrder,
        store: origin,
        seq: event.seq,
        eventId: event.eventId,
        position: String(event.position),
        message: `seq ${event.seq} is stored after seq ${chain.last!.seq}, too far from its place to be put back; its chain links were not checked`,
      });
      return;
    }
    this.duplicate(chain, event);
  }

  /** A ChainHeadReceived record of `origin`'s stream. */
  head(origin: string, head: ChainHead, position: bigint): void {
    const chain = this.chain(origin);
    chain.heads += 1;
    if (head.storeId !== origin) {
      this.options.report({
        check: CHECKS.origin,
        store: origin,
        seq: Number(head.storeSeq),
        position: String(position),
        message: `signed head of origin "${head.storeId}" stored in the stream of ${origin}`,
      });
      return;
    }
    if (chain.waiting.size > 0) chain.heldHeads.push({ head, position });
    else this.checkHead(chain, { head, position });
  }

  /** Call once every record was read. `openEnd`: the records stop before the end of the history. */
  finish(openEnd: boolean): ChainSummary[] {
    for (const chain of this.origins.values()) {
      while (chain.waiting.size > 0) this.declareMissing(chain);
      for (const held of chain.heldHeads) this.checkHead(chain, held);
      chain.heldHeads = [];
      for (const { head, position } of chain.beyondHeads) {
        const seq = Number(head.storeSeq);
        if (chain.missing.has(seq)) continue;
        const last = chain.last?.seq ?? 0;
        // The events before the missing ones were signed by this head, but cannot be checked against it.
        const stranded = [...chain.unsigned.keys()].filter((unsignedSeq) => unsignedSeq > chain.coveredSeq && unsignedSeq < seq);
        for (const strandedSeq of stranded) chain.unsigned.delete(strandedSeq);
        this.options.report({
          check: CHECKS.headBeyondEvents,
          store: chain.origin,
          seq: last + 1,
          position: String(position),
          message:
            `${last + 1 === seq ? `seq ${seq} is` : `seqs ${last + 1}-${seq} are`} missing at the end of ${chain.origin}'s events: a validly signed head covers seq ${seq}, the stored events stop at seq ${last}` +
            (stranded.length
              ? `; seqs ${stranded[0]}-${stranded[stranded.length - 1]} rely on that head and cannot be checked against it`
              : ''),
        });
      }
      if (!openEnd) this.reportUnsigned(chain);
    }
    return [...this.origins.values()].map((chain) => ({
      origin: chain.origin,
      events: chain.events,
      heads: chain.heads,
      lastSeq: chain.last?.seq ?? 0,
      coveredSeq: chain.coveredSeq,
    }));
  }

  private accept(chain: OriginChain, event: ChainedEvent): void {
    const previous = chain.last;
    if (event.envelope !== undefined) {
      if (previous === undefined) {
        if (event.seq === 1 && !Buffer.from(event.envelope.prevHash).equals(GENESIS_HASH)) {
          this.options.report({
            check: CHECKS.chainHash,
            store: chain.origin,
            seq: 1,
            eventId: event.eventId,
            position: String(event.position),
            message: `the first event's prev_hash is ${hex(event.envelope.prevHash)}, not the genesis hash (32 zero bytes)`,
          });
        } else if (event.seq > 1 && this.options.fromGenesis) {
          this.reportGap(chain, 1, event.seq - 1, event);
        }
      } else if (previous.seq === event.seq - 1 && !sameHash(previous.hash, event.envelope.prevHash)) {
        this.reportChanged(
          chain,
          previous,
          `the stored envelope hashes to ${previous.hash}, but seq ${event.seq} (event ${event.eventId}) links to ${hex(event.envelope.prevHash)}: the envelope was changed after it was chained`,
        );
      }
    }
    const link = linkOf(event);
    chain.last = link;
    chain.unsigned.set(event.seq, link);
    this.options.onEvent(event);
    if (chain.heldHeads.length > 0 || chain.beyondHeads.length > 0) this.releaseHeads(chain, event.seq);
  }

  private releaseHeads(chain: OriginChain, upToSeq: number): void {
    for (const list of ['heldHeads', 'beyondHeads'] as const) {
      const ready = chain[list].filter((held) => Number(held.head.storeSeq) <= upToSeq);
      if (ready.length === 0) continue;
      chain[list] = chain[list].filter((held) => Number(held.head.storeSeq) > upToSeq);
      for (const held of ready) this.compareHead(chain, held);
    }
  }

  /** Hands on the waiting events that now follow the chain, naming each as stored out of order. */
  private drain(chain: OriginChain): void {
    for (;;) {
      const next = chain.waiting.get(chain.last!.seq + 1);
      if (next === undefined) return;
      chain.waiting.delete(next.seq);
      this.accept(chain, next);
    }
  }

  /** `event` fills the hole that events waiting with higher sequences were stored across. */
  private reportStoredLate(chain: OriginChain, event: ChainedEvent): void {
    const earlier = [...chain.waiting.values()].sort((a, b) => a.seq - b.seq);
    const named = earlier.slice(0, 3).map((e) => `seq ${e.seq} (event ${e.eventId}, position ${e.position})`);
    this.options.report({
      check: CHECKS.sequenceOrder,
      store: chain.origin,
      seq: event.seq,
      eventId: event.eventId,
      position: String(event.position),
      message: `seq ${event.seq} is stored after ${named.join(', ')}${earlier.length > 3 ? ` and ${earlier.length - 3} more` : ''}: events were reordered (checked in sequence order)`,
    });
  }

  /** The sequence an event of `origin` would have if it came next (for a record that cannot say). */
  nextSeq(origin: string): number {
    return (this.origins.get(origin)?.last?.seq ?? 0) + 1;
  }

  private duplicate(chain: OriginChain, event: ChainedEvent): void {
    this.options.report({
      check: CHECKS.sequenceDuplicate,
      store: chain.origin,
      seq: event.seq,
      eventId: event.eventId,
      position: String(event.position),
      message: `seq ${event.seq} is stored again (the chain is already at seq ${chain.last?.seq ?? 0}); this copy is not part of the chain`,
    });
  }

  /** The lowest waiting sequence cannot be reached: declare the sequences before it missing. */
  private declareMissing(chain: OriginChain): void {
    const lowest = Math.min(...chain.waiting.keys());
    const from = chain.last!.seq + 1;
    const resume = chain.waiting.get(lowest)!;
    this.reportGap(chain, from, lowest - 1, resume);
    for (let seq = from; seq < lowest; seq++) chain.missing.add(seq);
    chain.waiting.delete(lowest);
    // The event after the gap cannot link to what is missing: it starts a new stretch of chain.
    chain.last = undefined;
    for (const held of chain.heldHeads.filter((h) => Number(h.head.storeSeq) < lowest)) this.checkHead(chain, held);
    chain.heldHeads = chain.heldHeads.filter((h) => Number(h.head.storeSeq) >= lowest);
    this.acceptAfterGap(chain, resume);
  }

  private acceptAfterGap(chain: OriginChain, event: ChainedEvent): void {
    const link = linkOf(event);
    chain.last = link;
    chain.unsigned.set(event.seq, link);
    this.options.onEvent(event);
    this.releaseHeads(chain, event.seq);
    this.drain(chain);
  }

  private reportGap(chain: OriginChain, from: number, to: number, following: ChainedEvent): void {
    const range = from === to ? `seq ${from} is` : `seqs ${from}-${to} are`;
    this.options.report({
      check: CHECKS.sequenceGap,
      store: chain.origin,
      seq: from,
      position: String(following.position),
      message: `${range} missing: the chain goes from seq ${from - 1} to seq ${following.seq} (event ${following.eventId})`,
    });
  }

  private checkHead(chain: OriginChain, { head, position }: SignedHeadRecord): void {
    const seq = Number(head.storeSeq);
    const where = { store: chain.origin, seq, position: String(position) };
    const key = this.options.keys.get(chain.origin, head.keyId);
    if (key === undefined) {
      this.options.report({
        check: CHECKS.headSignature,
        ...where,
        message: `the head of seq ${seq} is signed with key id "${head.keyId}", which is not registered for ${chain.origin}`,
      });
      return;
    }
    if (!verifyHead(key, head)) {
      this.options.report({
        check: CHECKS.headSignature,
        ...where,
        message: `the signature on the head of seq ${seq} does not verify with ${chain.origin}'s key ${head.keyId}`,
      });
      return;
    }
    this.compareHead(chain, { head, position });
  }

  /** A validly signed head against the stored event it covers. */
  private compareHead(chain: OriginChain, { head, position }: SignedHeadRecord): void {
    const seq = Number(head.storeSeq);
    // A head for a sequence whose event is missing: the gap is named already.
    if (chain.missing.has(seq)) return;
    if (seq > (chain.last?.seq ?? 0)) {
      // Events up to it may still come (stored late or after a missing one); judged at the end.
      chain.beyondHeads.push({ head, position });
      return;
    }
    const covered = chain.unsigned.get(seq) ?? (chain.last?.seq === seq ? chain.last : undefined);
    if (covered === undefined) return;
    if (!sameHash(covered.hash, head.hash)) {
      this.reportChanged(
        chain,
        covered,
        `the stored envelope hashes to ${covered.hash}, but the head signed with key ${head.keyId} (position ${position}) records ${hex(head.hash)}: the envelope was changed after it was signed`,
      );
      return;
    }
    chain.coveredSeq = Math.max(chain.coveredSeq, seq);
    for (const unsignedSeq of chain.unsigned.keys()) {
      if (unsignedSeq > seq) break;
      chain.unsigned.delete(unsignedSeq);
    }
  }

  /** Names an event whose bytes are not what its chain recorded, once however many links say so. */
  private reportChanged(chain: OriginChain, event: ChainLink, message: string): void {
    if (chain.changed.has(event.seq)) return;
    chain.changed.add(event.seq);
    this.options.report({
      check: CHECKS.chainHash,
      store: chain.origin,
      seq: event.seq,
      eventId: event.eventId,
      position: String(event.position),
      message,
    });
  }

  private reportUnsigned(chain: OriginChain): void {
    const unsigned = [...chain.unsigned.values()].filter((event) => event.seq > chain.coveredSeq);
    for (const event of unsigned.slice(0, MAX_UNSIGNED_NAMED)) {
      this.options.report({
        check: CHECKS.chainUnsigned,
        store: chain.origin,
        seq: event.seq,
        eventId: event.eventId,
        position: String(event.position),
        message: `no validly signed head of ${chain.origin} covers this event (the last one covers seq ${chain.coveredSeq})`,
      });
    }
    if (unsigned.length > MAX_UNSIGNED_NAMED) {
      this.options.report({
        check: CHECKS.chainUnsigned,
        store: chain.origin,
        message: `${unsigned.length - MAX_UNSIGNED_NAMED} more events of ${chain.origin} after seq ${unsigned[MAX_UNSIGNED_NAMED - 1]!.seq} are covered by no validly signed head`,
      });
    }
  }
}
