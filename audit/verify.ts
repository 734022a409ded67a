// The audit's checks over a source of records: reads every record once, hashes each envelope once,
// verifies each signed head once, decodes only the payloads the purse checks need, and reports
// what failed. Runs in the replaying thread or in a worker thread (replay.ts).
import { hash as digest } from 'node:crypto';
import { decodeEvent, HQ_ORIGIN, isEventType, mayWrite, pb, type ChainHead } from '../contracts/index.js';
import { readEnvelope, type EnvelopeView } from './envelope-view.js';
import type { IssuerMasterKeys } from '../card/index.js';
import { ChainAuditor, type ChainSummary, type ChainedEvent } from './chain-check.js';
import { CHECKS, type Finding } from './findings.js';
import type { KeyRing } from './keys.js';
import { PurseAuditor, type PurseSummary } from './purse-check.js';
import type { AuditRecord, RecordSource } from './records.js';
import { CHAIN_HEAD_RECORD_TYPE, originOfStream } from '../eventstore/index.js';

export interface VerifyOptions {
  source: RecordSource;
  keys: KeyRing;
  /** Issuer master keys, to check card MACs; without them MACs are not checked (and a note says so). */
  issuerKeys?: IssuerMasterKeys;
  /** The source starts at the beginning of the history (checks then start from genesis). */
  fromGenesis: boolean;
  /** Called after each batch with the records checked so far. */
  onProgress?: (records: number, total: number | undefined) => void;
}

/** What the checks found over the whole source. */
export interface VerifiedHistory {
  findings: Finding[];
  records: number;
  events: number;
  heads: number;
  origins: ChainSummary[];
  purse: PurseSummary;
  /** What the audit could not check, and why. */
  notes: string[];
}

/** Reads the source and runs every check over it, in this thread. */
export async function verifyRecords(options: VerifyOptions): Promise<VerifiedHistory> {
  const findings: Finding[] = [];
  const report = (finding: Finding) => void findings.push(finding);
  const notes: string[] = [];
  const purse = new PurseAuditor(report, options.issuerKeys, options.fromGenesis);
  const chains = new ChainAuditor({ keys: options.keys, report, fromGenesis: options.fromGenesis, onEvent: (event) => onEvent(event) });

  const onEvent = (event: ChainedEvent) => {
    purse.onEvent(event);
    if (event.origin === HQ_ORIGIN && event.envelope?.eventType === 'StoreKeyRegistered') learnKey(event);
  };
  const learnKey = (event: ChainedEvent) => {
    const registered = decodeEvent('StoreKeyRegistered', event.envelope!.payload);
    if (registered.type !== 'StoreKeyRegistered' || registered.data.storeId === HQ_ORIGIN) return;
    const problem = options.keys.add({
      storeId: registered.data.storeId,
      keyId: registered.data.keyId,
      publicKey: registered.data.publicKey,
    });
    if (problem)
      report({
        check: CHECKS.headSignature,
        store: event.origin,
        seq: event.seq,
        eventId: event.eventId,
        position: String(event.position),
        message: problem,
      });
  };

  if (!options.fromGenesis) {
    // Keys registered before the first record read would otherwise never be learnt.
    for (const key of await options.source.registeredKeys()) {
      const problem = options.keys.add(key);
      if (problem) notes.push(problem);
    }
  }
  const total = await options.source.total();
  let records = 0;
  let events = 0;
  let heads = 0;
  // A handful of streams, millions of records: work out each stream's origin once, and each
  // origin's right to write a type once; records come in runs of one stream and one type, so the
  // last answer is asked first (a string comparison costs less than hashing a fresh string).
  const origins = new Map<string, string | undefined>();
  let lastStream: string | undefined;
  let lastOrigin: string | undefined;
  let writerOrigin: string | undefined;
  let writerType: string | undefined;
  let writerAllowed = true;
  for await (const batch of options.source.batches()) {
    for (const record of batch) {
      let origin = lastOrigin;
      if (record.streamId !== lastStream) {
        origin = origins.get(record.streamId);
        if (origin === undefined && !origins.has(record.streamId)) {
          origin = originOfStream(record.streamId);
          origins.set(record.streamId, origin);
        }
        lastStream = record.streamId;
        lastOrigin = origin;
      }
      if (origin === undefined) continue;
      if (record.type === CHAIN_HEAD_RECORD_TYPE) {
        heads += 1;
        const head = decodeHead(record, origin, report);
        if (head) chains.head(origin, head, record.position);
      } else {
        events += 1;
        if (origin !== writerOrigin || record.type !== writerType) {
          writerOrigin = origin;
          writerType = record.type;
          writerAllowed = !isEventType(record.type) || mayWrite(origin, record.type);
        }
        if (!writerAllowed) {
          report({
            check: CHECKS.eventWriter,
            store: origin,
            eventId: record.id,
            position: String(record.position),
            message: `a ${record.type} in the stream of ${origin === HQ_ORIGIN ? 'head office' : `store ${origin}`}, which may not write that event type`,
          });
        }
        chains.event(origin, chainedEvent(record, origin, chains, report));
      }
    }
    records += batch.length;
    options.onProgress?.(records, total);
  }
  findings.push(...options.source.integrityFindings());
  const chainSummaries = chains.finish(options.source.openEnd);
  const hqChain = chainSummaries.find((chain) => chain.origin === HQ_ORIGIN);
  const debitsComplete = options.fromGenesis && hqChain !== undefined;
  const purseSummary = purse.finish(debitsComplete);
  if (!debitsComplete) notes.push("loads were not matched against account debits: head office's chain is not read from its start");
  if (!options.issuerKeys) notes.push('card MACs were not checked: no issuer master keys were given');
  if (!options.fromGenesis)
    notes.push('the replay starts after the beginning: each chain and each card is anchored at its first event read');
  return {
    findings,
    records,
    events,
    heads,
    origins: chainSummaries,
    purse: purseSummary,
    notes,
  };
}

function chainedEvent(record: AuditRecord, origin: string, chains: ChainAuditor, report: (finding: Finding) => void): ChainedEvent {
  const hash = digest('sha256', record.data, 'hex');
  let envelope: EnvelopeView | undefined;
  try {
    envelope = readEnvelope(record.data, { eventId: record.id, storeId: origin, eventType: record.type });
  } catch (error) {
    // Still part of the chain: its hash is what its successor must link to.
    const seq = chains.nextSeq(origin);
    report({
      check: CHECKS.decode,
      store: origin,
      seq,
      eventId: record.id,
      position: String(record.position),
      message: `stored event ${record.id}: ${(error as Error).message}`,
    });
    return { origin, seq, eventId: record.id, position: record.position, hash, envelope: undefined };
  }
  if (envelope.storeId !== origin) {
    report({
      check: CHECKS.origin,
      store: origin,
      seq: envelope.storeSeq,
      eventId: envelope.eventId,
      position: String(record.position),
      message: `an envelope of origin "${envelope.storeId}" is stored in the stream of ${origin}`,
    });
  }
  return { origin, seq: envelope.storeSeq, eventId: envelope.eventId, position: record.position, hash, envelope };
}

function decodeHead(record: AuditRecord, origin: string, report: (finding: Finding) => void): ChainHead | undefined {
  try {
    const head = pb.ChainHeadReceived.decode(record.data).head;
    if (!head) throw new Error('no head in the record');
    return head as ChainHead;
  } catch (error) {
    report({
      check: CHECKS.decode,
      store: origin,
      position: String(record.position),
      message: `ChainHeadReceived record ${record.id}: ${(error as Error).message}`,
    });
    return undefined;
  }
}
