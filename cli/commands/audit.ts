import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { HQ_ORIGIN, StoreId } from '../../contracts/index.js';
import { keyIdOf, rawPublicKey, loadPublicKey } from '../../contracts/index.js';
import { describeEventStore, EVENTS_FILE, openEventStore, type EventStore } from '../../host/index.js';
import { headOfficeFiles, issuerKeysFile, loadIssuerKeys } from '../../host/provisioning/index.js';
import {
  compareReadModels,
  eventStoreSource,
  formatFinding,
  KeyRing,
  openExport,
  replayAndVerify,
  verifyEvent,
  writeExport,
  type RecordSource,
  type ReplayResult,
  type VerifiedEvent,
} from '../../audit/index.js';
import { headOfficeProjections, READ_MODELS_FILE } from '../../projections/index.js';
import { withDataOption, type DataCliOptions } from '../options.js';
import { answer, say } from '../output.js';
import { eventStoreChoice, hqDataDir, withEventStoreOptions, type EventStoreCliOptions } from './host-options.js';
import { startProgress } from '../progress.js';

// `cardsys audit export | replay | verify-event`: what an auditor runs against head office's event
// store (read only) or against an export file.

/** Where head office keeps its event store, read models, public key record and issuer master keys. */
export const auditDefaults = {
  eventStore: (data: string) => join(hqDataDir(data), EVENTS_FILE),
  hqPublicKey: (data: string) => headOfficeFiles(hqDataDir(data)).record,
  issuerKeys: (data: string) => issuerKeysFile(hqDataDir(data)),
  readModels: (data: string) => join(hqDataDir(data), READ_MODELS_FILE),
};

/** Read-model tables whose content does not follow from the events. */
const NOT_FROM_EVENTS = { issuance_feed: "it holds a random identity of head office's copy of the issuance feed" };

interface SourceOptions extends DataCliOptions, EventStoreCliOptions {
  file?: string;
  hqKey?: string;
  json?: boolean;
}

function withSourceOptions(command: Command): Command {
  return withEventStoreOptions(withDataOption(command))
    .option('--file <export>', "read an export file instead of head office's event store")
    .option(
      '--hq-key <file>',
      "head office's public key: a PEM file, or the provisioning record hq.public.json (default <data>/hq/directory/hq.public.json)",
    )
    .option('--json', 'one JSON object on stdout (failures too); progress on stderr');
}

function parsePosition(what: string, text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,18}$/.test(text)) throw new Error(`${what} must be a whole number (a position in the event store), got "${text}"`);
  return BigInt(text);
}

function parseBatch(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 1_000_000)
    throw new Error(`--batch must be a whole number from 1 to 1,000,000, got "${text}"`);
  return value;
}

function parseOrigin(text: string | undefined): string | undefined {
  if (text === undefined || text === HQ_ORIGIN) return text;
  const parsed = StoreId.safeParse(text);
  if (!parsed.success) throw new Error(`--store: ${parsed.error.issues[0]?.message ?? 'invalid store id'}`);
  return parsed.data;
}

/** Head office's raw public key from a PEM file or from the provisioning record. */
function readHqKey(file: string): Uint8Array {
  if (!existsSync(file)) throw new Error(`head office's public key file ${file} does not exist`);
  const text = readFileSync(file, 'utf8');
  if (text.trimStart().startsWith('{')) {
    const record = JSON.parse(text) as { signingPublicKey?: unknown };
    if (typeof record.signingPublicKey !== 'string') throw new Error(`${file} has no "signingPublicKey"`);
    return new Uint8Array(Buffer.from(record.signingPublicKey, 'base64'));
  }
  return rawPublicKey(loadPublicKey(file));
}

async function openHeadOfficeStore(options: SourceOptions): Promise<{ store: EventStore; description: string }> {
  const choice = eventStoreChoice(options);
  const dataDir = hqDataDir(options.data);
  if (choice === 'sqlite' && !existsSync(auditDefaults.eventStore(options.data))) {
    throw new Error(`no event store at ${auditDefaults.eventStore(options.data)} (give --data <dir> of head office, or --file <export>)`);
  }
  return { store: await openEventStore(dataDir, choice), description: `event store ${describeEventStore(dataDir, choice)}` };
}

/** The keys to check heads with: head office's (given or found), and those an export carries. */
function keyRing(
  options: SourceOptions,
  exportKeys?: { storeKeys: { storeId: string; keyId: string; publicKey: Uint8Array }[]; hqPublicKey: Uint8Array },
): { keys: KeyRing; notes: string[] } {
  const keys = new KeyRing();
  const notes: string[] = [];
  const hqKeyFile = options.hqKey ?? auditDefaults.hqPublicKey(options.data);
  const add = (problem: string | undefined) => {
    if (problem) throw new Error(problem);
  };
  if (options.hqKey !== undefined || existsSync(hqKeyFile)) {
    add(keys.addHq(readHqKey(hqKeyFile)));
  } else if (exportKeys?.hqPublicKey.length) {
    add(keys.addHq(exportKeys.hqPublicKey));
    notes.push("head office's public key was taken from the export's manifest; give --hq-key to check it independently");
  } else {
    notes.push(`head office's public key was not found (${hqKeyFile}); give --hq-key <file>`);
  }
  for (const key of exportKeys?.storeKeys ?? []) add(keys.add(key));
  return { keys, notes };
}

interface OpenedSource {
  source: RecordSource;
  /** The event store read, when the source is not an export file. */
  store?: EventStore;
  keys: KeyRing;
  notes: string[];
  fromGenesis: boolean;
  close(): Promise<void>;
}

async function openSource(options: SourceOptions & { from?: string; to?: string; store?: string; batch?: string }): Promise<OpenedSource> {
  const after = parsePosition('--from', options.from);
  const to = parsePosition('--to', options.to);
  const origin = parseOrigin(options.store);
  if (options.file !== undefined) {
    const file = openExport(options.file);
    if (after !== undefined || to !== undefined || origin !== undefined)
      throw new Error('--from, --to and --store select from the event store; an export file is read whole');
    const { keys, notes } = keyRing(options, {
      storeKeys: file.manifest.storeKeys as never,
      hqPublicKey: file.manifest.hqPublicKey ?? new Uint8Array(0),
    });
    const fromGenesis = !file.manifest.scopeStoreId && !Number(file.manifest.scopeFromPosition);
    return { source: file, keys, notes, fromGenesis, close: async () => undefined };
  }
  const { store, description } = await openHeadOfficeStore(options);
  const { keys, notes } = keyRing(options);
  return {
    source: eventStoreSource(store, { after, to, origin, batchSize: parseBatch(options.batch) }, description),
    store,
    keys,
    notes,
    fromGenesis: (after ?? 0n) === 0n && origin === undefined,
    close: () => store.close(),
  };
}

/** The progress bar on stderr (stdout stays for --json). */
function progressOf(label: string): { update(done: number, total: number | undefined): void; end(): void } {
  const progress = startProgress({ unit: 'records', label });
  let ended = false;
  return {
    update: (done, total) => progress.update(done, total ? done / total : undefined),
    end: () => {
      if (!ended) progress.finish();
      ended = true;
    },
  };
}

function replayLines(result: ReplayResult, source: string): string[] {
  return [
    `replayed ${source}: ${result.events.toLocaleString('en-US')} events and ${result.heads.toLocaleString('en-US')} signed heads in ${result.seconds.toFixed(2)} s (${result.eventsPerSecond.toLocaleString('en-US')} events/s)`,
    ...result.origins.map(
      (origin) => `  ${origin.origin}: ${origin.events} events, last seq ${origin.lastSeq}, signed up to seq ${origin.coveredSeq}`,
    ),
    `  purse: ${result.purse.cards} cards, ${result.purse.loads} loads, ${result.purse.pays} pays, ${result.purse.debits} account debits (${result.purse.openDebits} not loaded yet)`,
    ...result.notes.map((note) => `  note: ${note}`),
    ...(result.ok
      ? ['no findings: every check passed']
      : [`${result.findings.length} finding(s):`, ...result.findings.map((finding) => `  ${formatFinding(finding)}`)]),
  ];
}

function verifiedLines(result: VerifiedEvent): string[] {
  const { event, head } = result;
  return [
    `event ${event.eventId}: ${event.eventType}, ${event.origin} seq ${event.seq}, position ${event.position}, at ${event.occurredAt}`,
    `  hash ${event.hash}`,
    `  data ${JSON.stringify(event.data)}`,
    `  previous: ${result.previous ? `seq ${result.previous.seq} (${result.previous.eventId}, ${result.previous.eventType})` : '-'} — link ${result.previousLink}`,
    `  next: ${result.next ? `seq ${result.next.seq} (${result.next.eventId}, ${result.next.eventType})` : '-'} — link ${result.nextLink}`,
    ...(head
      ? [
          `  signed head: seq ${head.seq}, key ${head.keyId}, position ${head.position}, received ${head.receivedAt}`,
          `    signature ${head.signatureValid ? 'verifies' : 'DOES NOT VERIFY'}; chain from the event to the head ${head.coversEvent ? 'verifies' : 'DOES NOT VERIFY'}`,
        ]
      : []),
    result.ok ? 'verified' : `NOT verified: ${result.problems.join('; ')}`,
  ];
}

export function registerAuditCommands(program: Command): void {
  const audit = program
    .command('audit')
    .description("auditors' tools: export head office's history, replay and verify it, look at one event");

  withSourceOptions(
    audit
      .command('export')
      .description(
        'write the history (all, one store, or a position range) to a file of length-delimited records, exactly as stored, with a manifest',
      )
      .requiredOption('--out <file>', 'the export file to write')
      .option('--store <id>', 'only this store (or "hq")')
      .option('--from <position>', 'only records after this event-store position')
      .option('--to <position>', 'only records up to this position'),
  ).action(async (options: SourceOptions & { out: string; store?: string; from?: string; to?: string }) => {
    if (options.file !== undefined) throw new Error('export reads the event store; --file is for replay and verify-event');
    const opened = await openSource(options);
    try {
      const storeKeys = await opened.source.registeredKeys();
      const hqPublicKey = opened.keys.list().find((key) => key.storeId === HQ_ORIGIN)?.publicKey;
      const progress = progressOf('exporting');
      const total = await opened.source.total();
      const manifest = await writeExport(
        opened.source,
        options.out,
        {
          origin: parseOrigin(options.store),
          fromPosition: parsePosition('--from', options.from),
          toPosition: parsePosition('--to', options.to),
        },
        { storeKeys, hqPublicKey },
        (records) => progress.update(records, total),
      );
      progress.end();
      const summary = {
        ok: true,
        file: options.out,
        records: Number(manifest.records),
        firstPosition: Number(manifest.firstPosition),
        lastPosition: Number(manifest.lastPosition),
        bodySha256: Buffer.from(manifest.bodySha256 ?? []).toString('hex'),
        bodyBytes: Number(manifest.bodyBytes),
        origins: manifest.origins.map((o) => ({
          origin: o.origin,
          events: Number(o.events),
          heads: Number(o.heads),
          firstSeq: Number(o.firstSeq),
          lastSeq: Number(o.lastSeq),
          firstPosition: Number(o.firstPosition),
          lastPosition: Number(o.lastPosition),
        })),
        storeKeys: storeKeys.map((k) => ({ storeId: k.storeId, keyId: k.keyId })),
        hqKeyId: hqPublicKey ? keyIdOf(hqPublicKey) : undefined,
      };
      answer(summary, [
        `exported ${summary.records} records (positions ${summary.firstPosition}-${summary.lastPosition}) to ${options.out}, body SHA-256 ${summary.bodySha256}`,
        ...summary.origins.map((o) => `  ${o.origin}: ${o.events} events (seq ${o.firstSeq}-${o.lastSeq}), ${o.heads} signed heads`),
      ]);
    } finally {
      await opened.close();
    }
  });

  withSourceOptions(
    audit
      .command('replay')
      .description(
        'replay the history and verify it: every chain and signed head, gap-free sequences, card MACs and counters, balances, loads against account debits, and the read models',
      )
      .option('--from <position>', 'start after this event-store position (default: the beginning)')
      .option('--to <position>', 'stop at this position')
      .option('--store <id>', 'only this store (or "hq")')
      .option('--issuer-keys <file>', 'issuer master keys (JSON), to check card MACs (default <data>/hq/keys/issuer-keys.json)')
      .option('--read-models <file>', "head office's read models to compare with a fresh rebuild (default <data>/hq/readmodels.db)")
      .option('--no-read-models', 'do not rebuild and compare the read models')
      .addOption(new Option('--batch <records>', 'records read at a time').default('10000')),
  ).action(
    async (
      options: SourceOptions & {
        from?: string;
        to?: string;
        store?: string;
        issuerKeys?: string;
        readModels?: string | false;
        batch: string;
      },
    ) => {
      const opened = await openSource(options);
      try {
        const keysFile = options.issuerKeys ?? auditDefaults.issuerKeys(options.data);
        const issuerKeys = options.issuerKeys !== undefined || existsSync(keysFile) ? loadIssuerKeys(keysFile) : undefined;
        const progress = progressOf('replaying');
        const result = await replayAndVerify({
          source: opened.source,
          keys: opened.keys,
          issuerKeys,
          fromGenesis: opened.fromGenesis,
          inWorker: true,
          onProgress: (done, total) => progress.update(done, total),
          afterReplay: async () => {
            progress.end();
            if (options.readModels === false) return { findings: [], notes: ['read models were not compared (--no-read-models)'] };
            if (opened.store === undefined)
              return { findings: [], notes: ['read models were not compared: an export file has no read models beside it'] };
            if (!options.json) say("rebuilding the read models from the events to compare them with head office's");
            const currentFile = typeof options.readModels === 'string' ? options.readModels : auditDefaults.readModels(options.data);
            const readModels = headOfficeProjections(issuerKeys);
            const compared = await compareReadModels({
              store: opened.store,
              currentFile,
              projections: readModels,
              notFromEvents: NOT_FROM_EVENTS,
            });
            if (compared.position !== undefined)
              compared.notes.push(
                `read models compared at position ${compared.position}: ${compared.tables} tables, ${compared.rows} rows`,
              );
            return compared;
          },
        });
        result.notes.unshift(...opened.notes);
        answer({ source: opened.source.description, ...result }, replayLines(result, opened.source.description), result.ok ? 0 : 1);
      } finally {
        await opened.close();
      }
    },
  );

  withSourceOptions(
    audit
      .command('verify-event')
      .description('show one event, its neighbours in its chain, and the signed head that covers it, and whether each verifies')
      .argument('<id>', 'the event id (a UUID)')
      .option('--store <id>', 'the origin whose chain holds the event (a store id or "hq"); needed when several origins hold the id'),
  ).action(async (id: string, options: SourceOptions & { store?: string }) => {
    if (!/^[0-9a-fA-F-]{8,64}$/.test(id)) throw new Error(`event id must be a UUID, got "${id}"`);
    const origin = parseOrigin(options.store);
    // Not narrowed to the origin: the store keys head office registered in `hq` are read too.
    const opened = await openSource({ ...options, store: undefined });
    try {
      const result = await verifyEvent(opened.source, id, opened.keys, origin);
      if (result === undefined)
        throw new Error(`no event ${id}${origin === undefined ? '' : ` of ${origin}`} in ${opened.source.description}`);
      answer(result, verifiedLines(result), result.ok ? 0 : 1);
    } finally {
      await opened.close();
    }
  });
}
