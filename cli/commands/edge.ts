import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_TERMINAL_ID, loadPinKey, StoreId, TerminalId } from '../../contracts/index.js';
import { loadOrCreateSigningKey, loadPublicKey, publicKeyFileOf } from '../../contracts/index.js';
import { loadSealingKey, loadSealingPublicKey } from '../../contracts/index.js';
import { terminalKeysFromJson } from '../../card/index.js';
import { checkEdgeCredentials, storeBundleFiles, storeClientSettings } from '../../host/provisioning/index.js';
import { type BrokerCliOptions, withBrokerOptions, writeBroker } from './broker-options.js';
import {
  EdgeMetrics,
  edgeDbFile,
  edgeLogDir,
  EventLog,
  openEdgeDb,
  ReplicationCursor,
  startEdge,
  type CounterOptions,
  type EdgeOptions,
} from '../../edge/index.js';
import { PcscReaders, pcscTerminalReaders, KeyboardWedgeStripeReader, VirtualStripeReader, type StripeReader } from '../../reader/index.js';
import {
  loggerOf,
  stopSignal,
  withDataOption,
  withLogOptions,
  withNatsOptions,
  type DataCliOptions,
  type LogCliOptions,
  type NatsCliOptions,
} from '../options.js';
import { answer, say } from '../output.js';
import { serveMetrics } from '../../infra/index.js';
import { parseHttpAddress } from './host.js';

type EdgeCliOptions = NatsCliOptions &
  DataCliOptions &
  LogCliOptions & { store?: string; reader?: string[]; stripe: string; metrics?: string };

const storeDir = (data: string, storeId: string) => join(data, 'stores', storeId);

function parseStoreId(id: string | undefined): string {
  if (id === undefined) throw new Error('--store <id> is required');
  const parsed = StoreId.safeParse(id);
  if (!parsed.success) throw new Error(`--store: ${parsed.error.issues[0]?.message ?? 'invalid store id'}`);
  return parsed.data;
}

/** `cardsys edge --store <id>` runs a store's node; `cardsys edge status --store <id>` reports on it. */
export function registerEdgeCommands(program: Command): void {
  const edge = withLogOptions(
    withDataOption(
      withNatsOptions(
        program
          .command('edge')
          .description("run a store's node: its durable event log and the replicator that carries it to head office")
          .option('--store <id>', 'store id: 1-32 letters, digits, "-" or "_" (required)')
          .option(
            '--reader <[terminal=]name...>',
            `PC/SC reader of a POS terminal (terminal "${DEFAULT_TERMINAL_ID}" when not named); with it the node serves POS commands`,
          )
          .option(
            '--stripe <source>',
            'magnetic stripe reader: "chip" (bank file on the chip), "wedge" (one swipe per line on stdin) or "vcard:<card state file>"',
            'chip',
          )
          .option('--metrics <host:port>', "serve the edge's metrics in Prometheus's format at http://<host:port>/metrics"),
      ),
    ),
  )
    .addHelpText(
      'after',
      [
        '',
        'The store keeps its files in <data>/stores/<id>/ (the bundle head office provisioned: keys and credentials);',
        'its Ed25519 signing key is made there on first run when not provisioned.',
        "NATS: --nats, or the store broker's address recorded in <data>/stores/<id>/store-broker.json; credentials: --creds,",
        'or <data>/stores/<id>/store.nk when provisioned (the edge refuses credentials that are not its own); TLS verified',
        'with --tls-ca, or <data>/stores/<id>/ca.pem when provisioned. One edge at a time per data folder (<data>/stores/<id>/edge.lock).',
        'With --json: one JSON object on stdout once the node runs (storeId, logHead, nats, readers).',
        'Example: cardsys edge --store A --reader "Virtual PCD 00 02" --stripe vcard:./card.json',
      ].join('\n'),
    )
    .action(async (options: EdgeCliOptions) => {
      const storeId = parseStoreId(options.store);
      const stopRequested = stopSignal();
      const dataDir = storeDir(options.data, storeId);
      const nats = storeClientSettings(dataDir, storeId, 'store', options);
      checkEdgeCredentials(dataDir, storeId, nats.creds);
      const keyFile = join(dataDir, 'signing-key.pem');
      const { key, created } = loadOrCreateSigningKey(keyFile);
      say(
        `${created ? 'made the store signing key; register its public key with head office' : 'store signing key'}: ${publicKeyFileOf(keyFile)} (key id ${key.keyId})`,
      );
      const metricsAddress = options.metrics === undefined ? undefined : parseHttpAddress(options.metrics, '--metrics');
      const readers = options.reader?.length ? PcscReaders.open() : undefined;
      const metrics = metricsAddress ? new EdgeMetrics() : undefined;
      const node = await startEdge({
        logger: loggerOf(options, 'edge').child({ store: storeId }),
        storeId,
        dataDir,
        natsUrl: nats.url,
        natsOptions: nats.options,
        explainNatsError: nats.explain,
        signingKey: key,
        ...(readers ? counterOptions(dataDir, readers, options) : {}),
        ...(metrics ? { metrics } : {}),
      });
      const metricsServer = metrics && metricsAddress ? await serveMetrics(metrics.registry, metricsAddress) : undefined;
      if (metricsServer) say(`edge ${storeId}: metrics at http://${options.metrics}/metrics`);
      say(`edge ${storeId}: log head ${node.log.headSeq}, data in ${dataDir}, NATS ${nats.url}`);
      if (node.pos) say(`edge ${storeId}: serving POS commands on ${options.reader?.join(', ')}`);
      answer({ storeId, logHead: node.log.headSeq, dataDir: resolve(dataDir), nats: nats.url, readers: options.reader ?? [] });
      let last = '';
      node.replicator.on('progress', (progress) => {
        const line = `edge ${storeId}: head ${progress.headSeq}, confirmed ${progress.confirmedSeq}, unconfirmed ${progress.unconfirmed}${progress.lastError ? ` (${progress.lastError})` : ''}`;
        if (line !== last) say((last = line));
      });
      await stopRequested;
      metricsServer?.close();
      await node.stop();
      readers?.close();
    });

  withBrokerOptions(
    edge
      .command('broker-config')
      .description(
        "write the configuration of the store's own nats-server (shop LAN): TLS, its edge and POS users, a TLS leaf link to the hub " +
          '(cardsys store-broker writes it and runs nats-server on it)',
      ),
  ).action((options: BrokerCliOptions) => {
    const { file, listen } = writeBroker(options);
    answer({ file, listen }, `wrote ${file} (listening on ${listen}); run: nats-server -c ${file}`);
  });

  withDataOption(
    edge
      .command('status')
      .description("a store's log head, what head office has confirmed, and how many events wait for confirmation")
      .requiredOption('--store <id>', 'store id'),
  ).action(async (options: DataCliOptions & { store: string }) => {
    const storeId = parseStoreId(options.store);
    const dataDir = storeDir(options.data, storeId);
    if (!existsSync(edgeLogDir(dataDir))) throw new Error(`no event log for store ${storeId} in ${dataDir}`);
    const log = await EventLog.open({ dir: edgeLogDir(dataDir), storeId, readOnly: true, logger: { info: say, warn: say, error: say } });
    const confirmedSeq = existsSync(edgeDbFile(dataDir)) ? readConfirmed(dataDir) : 0;
    const status = { storeId, headSeq: log.headSeq, confirmedSeq, unconfirmed: Math.max(0, log.headSeq - confirmedSeq) };
    await log.close();
    answer(status, `store ${storeId}: head ${status.headSeq}, confirmed ${status.confirmedSeq}, unconfirmed ${status.unconfirmed}`);
  });
}

function readConfirmed(dataDir: string): number {
  const db = openEdgeDb(dataDir);
  try {
    return new ReplicationCursor(db).confirmedSeq;
  } finally {
    db.close();
  }
}

/** The counter of a provisioned store: terminal keys and issuance keys from its bundle, readers from the options. */
function counterOptions(dataDir: string, readers: PcscReaders, options: EdgeCliOptions): Pick<EdgeOptions, 'counter' | 'issuance'> {
  const bundle = storeBundleFiles(dataDir);
  for (const file of [bundle.terminalKeys, bundle.pinMasterKey, bundle.sealingKey, bundle.hqSealingPublicKey, bundle.hqSigningPublicKey]) {
    if (!existsSync(file)) throw new Error(`--reader needs a provisioned store: ${file} is missing (run "cardsys host provision-store")`);
  }
  const readerOf = terminalReaders(options.reader ?? []);
  const counter: CounterOptions = {
    keys: terminalKeysFromJson(JSON.parse(readFileSync(bundle.terminalKeys, 'utf8'))),
    pinMasterKey: loadPinKey(bundle.pinMasterKey),
    hqSigningPublicKey: loadPublicKey(bundle.hqSigningPublicKey),
    cardReader: pcscTerminalReaders(readers, (terminalId) => {
      const name = readerOf.get(terminalId);
      if (!name)
        throw new Error(
          `terminal ${terminalId} has no card reader at this store (readers: ${[...readerOf].map(([t, r]) => `${t}=${r}`).join(', ')})`,
        );
      return name;
    }),
  };
  const stripe = stripeReader(options.stripe);
  if (stripe) counter.stripeReader = async () => (await stripe.read({ timeoutMs: 30_000 })).bankId;
  return {
    counter,
    issuance: {
      sealingKey: loadSealingKey(bundle.sealingKey).privateKey,
      hqSealingPublicKey: loadSealingPublicKey(bundle.hqSealingPublicKey),
    },
  };
}

function terminalReaders(specs: string[]): Map<string, string> {
  const readers = new Map<string, string>();
  for (const spec of specs) {
    const match = /^([^=]+)=(.+)$/.exec(spec);
    const [terminal, reader] = match ? [match[1]!, match[2]!] : [DEFAULT_TERMINAL_ID, spec];
    const parsed = TerminalId.safeParse(terminal);
    if (!parsed.success) throw new Error(`--reader ${spec}: ${parsed.error.issues[0]?.message ?? 'invalid terminal id'}`);
    if (readers.has(terminal)) throw new Error(`--reader: terminal ${terminal} is given two readers`);
    readers.set(terminal, reader);
  }
  return readers;
}

function stripeReader(source: string): StripeReader | undefined {
  if (source === 'chip') return undefined;
  if (source === 'wedge') return new KeyboardWedgeStripeReader(process.stdin);
  if (source.startsWith('vcard:') && source.length > 'vcard:'.length) return new VirtualStripeReader(source.slice('vcard:'.length));
  throw new Error(`--stripe: expected "chip", "wedge" or "vcard:<card state file>", got "${source}"`);
}
