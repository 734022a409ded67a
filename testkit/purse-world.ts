// Real parts for purse tests: the backbone (nats-server, SQLite host event store, head office
// writer, ingest), the inquiry centre, stores whose WAN link can be cut, cards, and the purse
// ledger kept up to date from the host event store.
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { bankId, bankIdDigits, generateIssuerMasterKeys, newBlankCard, terminalKeysOf, type IssuerMasterKeys } from '../card/index.js';
import { DEFAULT_TERMINAL_ID, generatePinKey, terminalPinKey, type PosReply } from '../contracts/index.js';
import { CardRemovedError, ChipTerminal, InProcessCard, type CardTransport } from '../reader/index.js';
import { startEdge, type EdgeNode } from '../edge/index.js';
import { decodePosReply, encodePosCommand, type PosCommandInput, type PosServer } from '../edge/pos/index.js';
import type { PurseAtStore } from '../edge/purse/index.js';
import { InquiryCentre } from '../host/purse/index.js';
import type { LoadLimits, RefundRules } from '../domain/index.js';
import { ProjectionRunner, READ_MODELS_FILE, type Projection } from '../projections/index.js';
import { startLinkProxy, type LinkProxy } from '../infra/index.js';
import { PurseLedgerReader, purseLedgerProjection } from '../projections/index.js';
import { capturingLogger, startBackbone, type Backbone } from './backbone.js';
import { monthEnd } from '../domain/index.js';

export interface Store {
  storeId: string;
  edge: EdgeNode;
  pos: PosServer;
  purse: PurseAtStore;
  link: LinkProxy;
  /** The card currently in each terminal's reader. */
  readers: Map<string, CardTransport>;
  /** The store's PIN master key: its terminals' PIN keys derive from it. */
  pinMasterKey: Uint8Array;
  /** Sends a POS command to the edge in process, as from the terminal (works while the store is cut off). */
  command(
    kind: Pick<
      PosCommandInput,
      'load' | 'pay' | 'refund' | 'read' | 'status' | 'unblockPin' | 'changePin' | 'replacementCredit' | 'cardReturn'
    >,
    options?: { commandId?: string; terminalId?: string },
  ): Promise<PosReply>;
  /** Waits until head office holds every event the store has logged. */
  replicated(): Promise<void>;
  /** Stops the edge and starts it again on the same log and edge.db, then waits for NATS. */
  restart(): Promise<void>;
}

export interface PurseWorld {
  backbone: Backbone;
  master: IssuerMasterKeys;
  centre: InquiryCentre;
  /** Keeps the read models (the purse ledger, or the projections asked for) up to date from the host event store. */
  runner: ProjectionRunner;
  ledgerDb: Database.Database;
  ledger: PurseLedgerReader;
  log: ReturnType<typeof capturingLogger>;
  /** Starts a store's edge with a counter; `now` is the store's clock (default the system clock). */
  startStore(storeId: string, options?: { now?: () => Date }): Promise<Store>;
  /** Waits until the ledger (kept by the projection runner) has every event now in the host event store. */
  catchUpLedger(): Promise<void>;
  close(): Promise<void>;
}

let commandCounter = 0;

export interface PurseWorldOptions {
  validForMs?: number;
  marginMs?: number;
  /** The balance cap and daily load limit head office enforces (default DEFAULT_LOAD_LIMITS). */
  loadLimits?: LoadLimits;
  /** The refund window head office enforces (default DEFAULT_REFUND_RULES). */
  refundRules?: RefundRules;
  /** Stores connect to nats-server directly rather than through a link that can be cut (benchmarks). */
  directLinks?: boolean;
  /** The read models to keep (they must include the purse ledger); default the purse ledger alone. */
  projections?: (issuerKeys: IssuerMasterKeys) => Projection[];
}

export async function startPurseWorld(storeIds: string[], options: PurseWorldOptions = {}): Promise<PurseWorld> {
  const backbone = await startBackbone(storeIds);
  await backbone.startIngest();
  const master = generateIssuerMasterKeys(1);
  const log = capturingLogger();
  const centre = await InquiryCentre.start({
    nc: backbone.nc,
    store: backbone.store,
    writer: backbone.hq,
    issuerKeys: master,
    logger: log.logger,
    validForMs: options.validForMs,
    marginMs: options.marginMs,
    loadLimits: options.loadLimits,
    refundRules: options.refundRules,
    sweepEveryMs: 0,
  });
  const runner = ProjectionRunner.open({
    file: join(backbone.dir, 'host', READ_MODELS_FILE),
    store: backbone.store,
    projections: options.projections?.(master) ?? [purseLedgerProjection({ issuerKeys: master })],
    logger: log.logger,
  });
  runner.start();
  const ledgerDb = runner.db;
  const stores: Store[] = [];

  const world: PurseWorld = {
    backbone,
    master,
    centre,
    runner,
    ledgerDb,
    ledger: new PurseLedgerReader(ledgerDb),
    log,
    async startStore(storeId, storeOptions = {}) {
      const link = await startLinkProxy({ port: backbone.nats.port });
      const readers = new Map<string, CardTransport>();
      const pinMasterKey = generatePinKey();
      const open = () =>
        startEdge({
          storeId,
          dataDir: join(backbone.dir, 'stores', storeId),
          natsUrl: options.directLinks ? backbone.nats.url : link.url,
          natsOptions: { reconnectTimeWait: 100 },
          signingKey: backbone.keys.get(storeId)!.key,
          logger: log.logger,
          replication: { stallMs: 1000 },
          counter: {
            keys: terminalKeysOf(master),
            pinMasterKey,
            hqSigningPublicKey: backbone.hq.signingKey.publicKey,
            now: storeOptions.now,
            cardReader: (terminalId) => {
              const reader = readers.get(terminalId);
              if (!reader) throw new Error(`no reader at terminal ${terminalId}`);
              return reader;
            },
          },
        });
      const edge = await open();
      const store: Store = {
        storeId,
        edge,
        pos: edge.pos!,
        purse: edge.purse!,
        link,
        readers,
        pinMasterKey,
        async command(kind, commandOptions = {}) {
          const terminalId = commandOptions.terminalId ?? DEFAULT_TERMINAL_ID;
          const terminal = { storeId, terminalId, pinKey: terminalPinKey(pinMasterKey, storeId, terminalId) };
          const bytes = encodePosCommand(terminal, { commandId: commandOptions.commandId ?? `cmd-${++commandCounter}`, ...kind });
          return decodePosReply(await store.pos.handle(bytes, terminalId));
        },
        async replicated() {
          await store.edge.replicator.whenConfirmed(store.edge.log.headSeq);
        },
        async restart() {
          await store.edge.stop();
          store.edge = await open();
          store.pos = store.edge.pos!;
          store.purse = store.edge.purse!;
          await store.edge.nats;
        },
      };
      stores.push(store);
      return store;
    },
    async catchUpLedger() {
      let last = runner.checkpoint();
      for (;;) {
        const records = await backbone.store.readAll({ after: last, maxCount: 5_000 });
        if (records.length === 0) break;
        last = records[records.length - 1]!.position;
      }
      if (last !== undefined) await runner.waitForPosition(last);
    },
    async close() {
      await centre.stop();
      for (const store of stores) {
        await store.edge.stop();
        await store.link.close();
      }
      await runner.close();
      await backbone.close();
    },
  };
  return world;
}

export interface IssuedCard {
  cardId: string;
  bankId: string;
  card: InProcessCard;
}

let cardCounter = 0;

/**
 * A card initialised by head office (in process), for a bank account opened with `opening` yen;
 * with `holder`, its user is registered with that name and birth date.
 */
export async function issueCard(
  world: PurseWorld,
  options: { opening?: number; pin?: string; expiry?: string; account?: boolean; holder?: { name: string; birthDate: string } } = {},
): Promise<IssuedCard> {
  const n = ++cardCounter;
  const cardId = `c0ffee${String(n).padStart(10, '0')}`;
  const account = bankId('0001', '234', String(1_000_000 + n).padStart(7, '0'));
  const card = new InProcessCard(newBlankCard(world.master.transport));
  const terminal = new ChipTerminal(card, { keys: world.master, terminalName: 'hq-issuance' });
  const expiry = options.expiry ?? '2030-12';
  await terminal.initialise(world.master, { cardId, expiry, pin: options.pin ?? '1234', bankId: account });
  const digits = bankIdDigits(account);
  // Head office records the card it issued (the inquiry centre loads no card it never issued).
  const user = options.holder && {
    event: {
      type: 'UserRegistered' as const,
      data: { userId: `user-${n}`, applicationId: `application-${n}`, personal: options.holder, homeStoreId: 's1' },
    },
    streamId: `user-user-${n}`,
  };
  await world.backbone.hq.append([
    ...(user ? [user] : []),
    {
      event: { type: 'CardPrimaryIssued', data: { cardId, userId: `user-${n}`, bankId: digits, expiry: monthEnd(expiry), keyVersion: 1 } },
      streamId: `card-${cardId}`,
    },
  ]);
  if (options.account !== false) await world.centre.openAccount(digits, options.opening ?? 100_000);
  return { cardId, bankId: digits, card };
}

/** The chip's own view of its purse. */
export function chipPurse(card: InProcessCard): { balance: number; counter: number } {
  const issued = card.state.issued!;
  return { balance: issued.balance, counter: issued.counter };
}

/**
 * A reader whose card commits the next command with this INS byte but is pulled before the answer
 * comes back: the chip changed, the terminal sees the card removed.
 */
export function losingAnswerTo(card: InProcessCard, ins: number): CardTransport {
  let armed = true;
  return {
    async transmit(apdu) {
      const response = await card.transmit(apdu);
      if (armed && apdu[1] === ins) {
        armed = false;
        card.remove();
        throw new CardRemovedError('card removed during the command');
      }
      return response;
    },
  };
}

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A purse world with one store whose edge has reached NATS: the setup most purse tests share. */
export async function startOneStoreWorld(storeId = 's1', options: PurseWorldOptions = {}): Promise<{ world: PurseWorld; store: Store }> {
  const world = await startPurseWorld([storeId], options);
  const store = await world.startStore(storeId);
  await store.edge.nats;
  return { world, store };
}
