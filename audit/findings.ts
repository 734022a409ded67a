// What an audit reports: one finding per thing that failed, naming where (origin, sequence, event
// id, host position) and which check.

/** Every check an audit runs, by the name findings carry. */
export const CHECKS = {
  /** A record that is not a well-formed envelope or head. */
  decode: 'decode',
  /** An envelope filed under another origin's stream. */
  origin: 'origin',
  /** An event of a type its origin may not write (a store writing head office's facts). */
  eventWriter: 'event.writer',
  /** A sequence number missing from an origin's chain. */
  sequenceGap: 'sequence.gap',
  /** A sequence number stored out of order. */
  sequenceOrder: 'sequence.order',
  /** The same sequence number stored twice. */
  sequenceDuplicate: 'sequence.duplicate',
  /** An envelope whose bytes no longer hash to what its successor or its signed head recorded. */
  chainHash: 'chain.hash',
  /** Events after the last validly signed head: nobody vouches for them. */
  chainUnsigned: 'chain.unsigned',
  /** A signed head whose signature does not verify, or whose key is not registered for its origin. */
  headSignature: 'head.signature',
  /** A signed head for a sequence the stored events never reach. */
  headBeyondEvents: 'head.beyond-events',
  /** A card MAC that does not verify. */
  cardMac: 'card.mac',
  /** A card transaction counter that repeats, goes back or skips. */
  cardCounter: 'card.counter',
  /** A purse balance that does not follow (new balance ≠ old ± amount, or a pay beyond the balance). */
  purseBalance: 'purse.balance',
  /** A load not matched by exactly one bank-account debit. */
  loadDebit: 'load.debit',
  /** A freshly rebuilt read model that differs from head office's. */
  projection: 'projection',
  /** An export file whose body does not match its manifest. */
  exportDigest: 'export.digest',
} as const;

export type Check = (typeof CHECKS)[keyof typeof CHECKS];

export interface Finding {
  check: Check;
  /** Origin: a store id, or "hq". */
  store?: string;
  seq?: number;
  eventId?: string;
  /** Position in the host event store (or in the export it came from). */
  position?: string;
  /** What failed, in words. */
  message: string;
}

/** One line per finding, for people. */
export function formatFinding(finding: Finding): string {
  const where = [
    finding.store !== undefined ? `store ${finding.store}` : undefined,
    finding.seq !== undefined ? `seq ${finding.seq}` : undefined,
    finding.eventId ? `event ${finding.eventId}` : undefined,
    finding.position !== undefined ? `position ${finding.position}` : undefined,
  ].filter(Boolean);
  return `[${finding.check}]${where.length ? ` ${where.join(', ')}` : ''}: ${finding.message}`;
}

export type Report = (finding: Finding) => void;
