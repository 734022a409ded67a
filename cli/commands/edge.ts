import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { StoreId } from '../../contracts/index.js';
import { loadOrCreateSigningKey, publicKeyFileOf } from '../../contracts/chain.js';
import { natsConnectOptions } from '../../infra/nats/credentials.js';
import { edgeDbFile, edgeLogDir, EventLog, openEdgeDb, ReplicationCursor, startEdge } from '../../edge/index.js';
import { say, withDataOption, withNatsOptions, type DataCliOptions, type NatsCliOptions } from '../options.js';

type EdgeCliOptions = NatsCliOptions & DataCliOptions & { store?: string };

const storeDir = (data: string, storeId: string) => join(data, 'stores', storeId);

function parseStoreId(id: string | undefined): string {
  if (id === undefined) throw new Error('--store <id> is required');
  const parsed = StoreId.safeParse(id);
  if (!parsed.success) throw new Error(`--store: ${parsed.error.issues[0]?.message ?? 'invalid store id'}`);
  return parsed.data;
}

/** `cardsys edge --store <id>` runs a store's node; `cardsys edge status --store <id>` reports on it. */
export function registerEdgeCommands(program: Command): void {
  const edge = withDataOption(
    withNatsOptions(
      program
        .command('edge')
        .description("run a store's node: its durable event log and the replicator that carries it to head office")
        .option('--store <id>', 'store id: 1-32 letters, digits, "-" or "_" (required)'),
    ),
  )
    .addHelpText('after', '\nThe store keeps its files in <data>/stores/<id>/; its Ed25519 signing key is made there on first run.\nNATS credentials: --creds, or <data>/stores/<id>/store.nk when provisioned.')
    .action(async (options: EdgeCliOptions) => {
      const storeId = parseStoreId(options.store);
      const stopRequested = new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      const dataDir = storeDir(options.data, storeId);
      const keyFile = join(dataDir, 'signing-key.pem');
      const { key, created } = loadOrCreateSigningKey(keyFile);
      say(`${created ? 'made the store signing key; register its public key with head office' : 'store signing key'}: ${publicKeyFileOf(keyFile)} (key id ${key.keyId})`);
      const provisionedCreds = join(dataDir, 'store.nk');
      const creds = options.creds ?? (existsSync(provisionedCreds) ? provisionedCreds : undefined);
      const node = await startEdge({ storeId, dataDir, natsUrl: options.nats, natsOptions: natsConnectOptions(creds), signingKey: key });
      say(`edge ${storeId}: log head ${node.log.headSeq}, data in ${dataDir}, NATS ${options.nats}`);
      let last = '';
      node.replicator.on('progress', (progress) => {
        const line = `edge ${storeId}: head ${progress.headSeq}, confirmed ${progress.confirmedSeq}, unconfirmed ${progress.unconfirmed}${progress.lastError ? ` (${progress.lastError})` : ''}`;
        if (line !== last) say((last = line));
      });
      await stopRequested;
      await node.stop();
    });

  withDataOption(
    edge
      .command('status')
      .description("a store's log head, what head office has confirmed, and how many events wait for confirmation")
      .requiredOption('--store <id>', 'store id')
      .option('--json', 'one JSON object on stdout'),
  ).action(async (options: DataCliOptions & { store: string; json?: boolean }) => {
    const storeId = parseStoreId(options.store);
    const dataDir = storeDir(options.data, storeId);
    if (!existsSync(edgeLogDir(dataDir))) throw new Error(`no event log for store ${storeId} in ${dataDir}`);
    const log = await EventLog.open({ dir: edgeLogDir(dataDir), storeId, readOnly: true, logger: { info: say, warn: say, error: say } });
    const confirmedSeq = existsSync(edgeDbFile(dataDir)) ? readConfirmed(dataDir) : 0;
    const status = { storeId, headSeq: log.headSeq, confirmedSeq, unconfirmed: Math.max(0, log.headSeq - confirmedSeq) };
    await log.close();
    if (options.json) process.stdout.write(`${JSON.stringify(status)}\n`);
    else say(`store ${storeId}: head ${status.headSeq}, confirmed ${status.confirmedSeq}, unconfirmed ${status.unconfirmed}`);
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
