// Real parts for head office's console: nats-server, `cardsys host`'s head office (API, console,
// read models, ingest, inquiry centre, primary issuance on an in-process card), stores whose edges
// reach NATS through a WAN link that can be cut, and a customer with a card issued through the API.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIssuerMasterKeys, newBlankCard, terminalKeysOf } from '../card/index.js';
import { DEFAULT_TERMINAL_ID, generatePinKey, generateSigningKey, terminalPinKey, type PosReply } from '../contracts/index.js';
import { EdgeMetrics, type EdgeNode, startEdge } from '../edge/index.js';
import { decodePosReply, encodePosCommand, type PosCommandInput } from '../edge/pos/index.js';
import { tokenFor, type Role } from '../host/api/index.js';
import { registerStore } from '../host/hq-writer/index.js';
import { type HostNode, startHost } from '../host/index.js';
import { type LinkProxy, type Logger, startLinkProxy } from '../infra/index.js';
import { type NatsServer, startNatsServer } from '../infra/nats/index.js';
import { InProcessCard } from '../reader/index.js';
import { capturingLogger } from './backbone.js';

const PIN = '1234';

export interface ConsoleStore {
  storeId: string;
  edge: EdgeNode;
  metrics: EdgeMetrics;
  link: LinkProxy;
  /** A POS command at the store's terminal pos-1 (in process: works while the store is cut off). */
  command(kind: Pick<PosCommandInput, 'load' | 'pay' | 'read' | 'cardReturn'>): Promise<PosReply>;
}

export interface ConsoleWorld {
  host: HostNode;
  hqDataDir: string;
  stores: Map<string, ConsoleStore>;
  /** The customer's card, primary-issued through the API, in store A's reader. */
  cardId: string;
  userId: string;
  bankId: string;
  customerName: string;
  pin: string;
  token(role: Role): Promise<string>;
  /** A call to head office's API as this role; the parsed body, refusing any status but 2xx. */
  call<T>(role: Role, method: string, path: string, body?: unknown): Promise<T>;
  log: ReturnType<typeof capturingLogger>;
  close(): Promise<void>;
}

export interface ConsoleWorldOptions {
  /** Silence after which head office counts a store offline (edges here beat every 250 ms). */
  offlineAfterMs?: number;
  logger?: Logger;
}

export async function startConsoleWorld(storeIds: readonly string[], options: ConsoleWorldOptions = {}): Promise<ConsoleWorld> {
  const root = mkdtempSync(join(tmpdir(), 'cardsys-console-'));
  const hqDataDir = join(root, 'hq');
  const log = capturingLogger();
  const logger = options.logger ?? log.logger;
  const master = generateIssuerMasterKeys(1);
  const card = new InProcessCard(newBlankCard(master.transport));
  const stops: Array<() => Promise<unknown>> = [];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const nats: NatsServer = await startNatsServer({ dataDir: join(root, 'nats') });
    stops.push(() => nats.stop());
    const host = await startHost({
      dataDir: hqDataDir,
      natsUrl: nats.url,
      http: { host: '127.0.0.1', port: 0 },
      issuerKeys: master,
      logger,
      storeOfflineAfterMs: options.offlineAfterMs ?? 1_500,
      // Head office's issuance station: its reader holds the customer's blank card.
      issuanceStation: { readerName: 'in-process', card: async () => card, writeStripe: async () => undefined },
    });
    stops.push(() => host.stop());
    const tokens = new Map<Role, string>();
    const token = async (role: Role) => {
      if (!tokens.has(role)) tokens.set(role, await tokenFor(hqDataDir, role, `console-${role}`));
      return tokens.get(role)!;
    };
    const call = async <T>(role: Role, method: string, path: string, body?: unknown): Promise<T> => {
      const response = await fetch(`${host.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${await token(role)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} as ${role} answered ${response.status}: ${text}`);
      return JSON.parse(text) as T;
    };

    const stores = new Map<string, ConsoleStore>();
    for (const storeId of storeIds) {
      const key = generateSigningKey();
      const pinMasterKey = generatePinKey();
      const metrics = new EdgeMetrics();
      await registerStore(host.hqWriter, { storeId, name: `Store ${storeId}`, publicKey: key.publicKey });
      const link = await startLinkProxy({ port: nats.port });
      stops.push(() => link.close());
      const edge = await startEdge({
        storeId,
        dataDir: join(root, 'stores', storeId),
        natsUrl: link.url,
        natsOptions: { reconnectTimeWait: 100 },
        signingKey: key,
        logger,
        replication: { stallMs: 1000, heartbeatMs: 250 },
        metrics,
        counter: {
          keys: terminalKeysOf(master),
          pinMasterKey,
          hqSigningPublicKey: host.hqWriter.signingKey.publicKey,
          cardReader: () => card,
        },
      });
      stops.push(() => edge.stop());
      await edge.nats;
      let commands = 0;
      stores.set(storeId, {
        storeId,
        edge,
        metrics,
        link,
        async command(kind) {
          const terminal = { storeId, terminalId: DEFAULT_TERMINAL_ID, pinKey: terminalPinKey(pinMasterKey, storeId, DEFAULT_TERMINAL_ID) };
          const bytes = encodePosCommand(terminal, { commandId: `console-${storeId}-${++commands}`, ...kind });
          return decodePosReply(await edge.pos!.handle(bytes, DEFAULT_TERMINAL_ID));
        },
      });
    }

    // The customer: the bank's feed opens the account, the clerk registers the application and issues the card.
    const bank = { bankName: 'Example Bank', bankCode: '0005', branchCode: '123', accountNumber: '4567890' };
    const customerName = 'Hanako Yamada';
    await call('bank-feed', 'POST', '/v1/bank-accounts', {
      bankCode: bank.bankCode,
      branchCode: bank.branchCode,
      accountNumber: bank.accountNumber,
      balance: 50_000,
    });
    const user = await call<{ userId: string; bankId: string }>('clerk', 'POST', '/v1/applications', {
      personal: {
        name: customerName,
        address: '1-2-3 Tenjin, Chuo-ku, Fukuoka',
        birthDate: '1990-04-01',
        occupation: 'engineer',
        affiliation: 'Example Co.',
      },
      bank,
      homeStoreId: storeIds[0],
    });
    const issued = await call<{ cardId: string }>('clerk', 'POST', `/v1/users/${user.userId}/cards`, { pin: PIN });
    return {
      host,
      hqDataDir,
      stores,
      cardId: issued.cardId,
      userId: user.userId,
      bankId: user.bankId,
      customerName,
      pin: PIN,
      token,
      call,
      log,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
