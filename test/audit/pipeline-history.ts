// A purse history made by the real pipeline: nats-server, two stores' edge logs and replicators,
// head office's ingest into an SQLite event store and head office's own writer (store keys, account
// debits). Card MACs are the card's own (card transactionMac with keys diversified from the issuer
// master keys). Laid out as `cardsys audit --data <dir>` expects: <dir>/hq/events.db, head office's
// public key record and the issuer keys under <dir>/hq/.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { generateSigningKey, rawPublicKey, type EventInput, type SigningKey } from '../../contracts/index.js';
import {
  deriveCardKey,
  fromHex,
  generateIssuerMasterKeys,
  keysToJson,
  terminalIdOf,
  toHex,
  transactionMac,
  type IssuerMasterKeys,
} from '../../card/index.js';
import { startNatsServer } from '../../infra/nats/index.js';
import { SqliteEventStore } from '../../eventstore/index.js';
import { ensureEventsStream, startIngest } from '../../host/ingest/index.js';
import { HqWriter, registerStore, storeKeyDirectory } from '../../host/hq-writer/index.js';
import { startEdge, type EdgeNode } from '../../edge/index.js';
import { auditDefaults } from '../../cli/commands/index.js';
import { headOfficeProjections, ProjectionRunner } from '../../projections/index.js';

export interface PipelineHistory {
  /** The --data folder of the finished history. */
  dir: string;
  storeKeys: Map<string, SigningKey>;
  hqKey: SigningKey;
  issuerKeys: IssuerMasterKeys;
  storeEvents: number;
  /** A fresh copy of the data folder to tamper with. */
  copy(): string;
}

const TERMINAL = toHex(terminalIdOf('pos-1'));
const quiet = { info: () => undefined, warn: () => undefined, error: (m: unknown) => process.stderr.write(`${String(m)}\n`) };

interface Card {
  id: string;
  balance: number;
  counter: number;
  bankId: string;
}

/** Runs the pipeline until every store event is confirmed in the host event store, then stops it. */
export async function makePipelineHistory(options: { stores: string[]; cards: number; operations: number }): Promise<PipelineHistory> {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-audit-'));
  const nats = await startNatsServer({ dataDir: join(dir, 'nats') });
  const nc = await connect({ servers: nats.url });
  await ensureEventsStream(nc);
  const store = SqliteEventStore.open(auditDefaults.eventStore(dir));
  const hqKey = generateSigningKey();
  const hq = await HqWriter.open({ store, signingKey: hqKey });
  const issuerKeys = generateIssuerMasterKeys(1);
  const storeKeys = new Map<string, SigningKey>();
  for (const storeId of options.stores) {
    const key = generateSigningKey();
    storeKeys.set(storeId, key);
    await registerStore(hq, { storeId, name: `Store ${storeId}`, publicKey: key.publicKey });
  }
  const ingest = await startIngest({ nc, store, storeKeys: storeKeyDirectory(store), logger: quiet, ackWaitMs: 2000 });
  // Head office's read models, kept up to date as events arrive.
  const readModels = ProjectionRunner.open({ file: auditDefaults.readModels(dir), store, projections: headOfficeProjections(issuerKeys) });
  readModels.start();
  const edges = new Map<string, EdgeNode>();
  for (const storeId of options.stores) {
    edges.set(
      storeId,
      await startEdge({
        storeId,
        dataDir: join(dir, 'stores', storeId),
        natsUrl: nats.url,
        signingKey: storeKeys.get(storeId)!,
        logger: quiet,
      }),
    );
  }

  const cards: Card[] = Array.from({ length: options.cards }, (_, i) => ({
    id: toHex(fromHex(`c0ffee${String(i).padStart(10, '0')}`)),
    balance: 0,
    counter: 0,
    bankId: `00010010${String(i).padStart(6, '0')}`,
  }));
  const mac = (card: Card, operation: 'credit' | 'debit', amount: number) =>
    transactionMac(
      deriveCardKey(issuerKeys.transaction, fromHex(card.id), 'transaction'),
      operation,
      fromHex(card.id),
      card.counter,
      amount,
      card.balance,
      fromHex(TERMINAL),
    );
  try {
    for (let i = 0; i < options.operations; i++) {
      const storeId = options.stores[i % options.stores.length]!;
      const card = cards[(i * 7) % cards.length]!;
      const load = card.balance < 3_000;
      const amount = load ? 10_000 : 500 + ((i * 37) % 2_000);
      card.counter += 1;
      card.balance += load ? amount : -amount;
      const common = { cardId: card.id, amount, newBalance: card.balance, cardCounter: card.counter, storeId, terminalId: TERMINAL };
      let input: EventInput;
      if (load) {
        const authorizationId = toHex(fromHex(`a0${String(i).padStart(14, '0')}`));
        await hq.append([
          {
            streamId: `account-${card.bankId}`,
            event: {
              type: 'BankAccountDebited',
              data: { bankId: card.bankId, authorizationId, amount, newBalance: 1_000_000 - amount, cardId: card.id },
            },
          },
        ]);
        input = {
          streamId: `card-${card.id}`,
          event: { type: 'PurseLoaded', data: { ...common, authorizationId, cardMac: mac(card, 'credit', amount) } },
        };
      } else {
        input = { streamId: `card-${card.id}`, event: { type: 'PursePaid', data: { ...common, cardMac: mac(card, 'debit', amount) } } };
      }
      await edges.get(storeId)!.log.append([input]);
    }
    for (const edge of edges.values()) await edge.replicator.whenConfirmed(edge.log.headSeq);
    await readModels.waitForPosition((await store.headPosition())!);
  } finally {
    await readModels.close();
    for (const edge of edges.values()) await edge.stop();
    await ingest.stop();
    await nc.close();
    await store.close();
    await nats.stop();
  }

  const hqKeys = join(dir, 'hq', 'keys');
  mkdirSync(join(dir, 'hq', 'directory'), { recursive: true });
  mkdirSync(hqKeys, { recursive: true });
  writeFileSync(
    auditDefaults.hqPublicKey(dir),
    JSON.stringify({ signingKeyId: hqKey.keyId, signingPublicKey: Buffer.from(rawPublicKey(hqKey.publicKey)).toString('base64') }),
  );
  writeFileSync(auditDefaults.issuerKeys(dir), JSON.stringify(keysToJson(issuerKeys)));
  let copies = 0;
  return {
    dir,
    storeKeys,
    hqKey,
    issuerKeys,
    storeEvents: options.operations,
    copy() {
      const target = join(dir, 'copies', String(++copies));
      for (const file of [auditDefaults.eventStore, auditDefaults.hqPublicKey, auditDefaults.issuerKeys, auditDefaults.readModels]) {
        mkdirSync(join(file(target), '..'), { recursive: true });
        copyFileSync(file(dir), file(target));
      }
      return target;
    },
  };
}
