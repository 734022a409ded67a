// Store counters as they run in a shop: the deployment as provisioned (hub, head office over HTTP,
// store brokers over TLS), `cardsys edge` processes with a PC/SC reader (crashed or cut off from
// power by the test), POS terminals on their store's broker, and virtual cards behind pcscd + vpcd.
import type { NatsConnection } from '@nats-io/transport-node';
import { bankId, newBlankCard, newCardId, type IssuerMasterKeys } from '../../card/index.js';
import { loadPinKey, type PosReply } from '../../contracts/index.js';
import { sendPosCommand, type PosCommandInput, type PosTerminal } from '../../edge/pos/index.js';
import { domainEventsOf, originStreamName } from '../../eventstore/index.js';
import { tokenFor, type Role } from '../../host/api/index.js';
import { issuerKeysFile, loadIssuerKeys, storeNatsOptions } from '../../host/provisioning/index.js';
import { ChipTerminal, InProcessCard } from '../../reader/index.js';
import { openPcscRig, type PcscRig, type SlotCard } from '../../testkit/pcsc-rig.js';
import { startDeployment, type Broker, type Deployment } from '../security/deployment.js';
import { startEdgeProcess, type EdgeProcess } from './edge-process.js';

type CommandKind = Omit<PosCommandInput, 'commandId'>;

const TERMINAL = 'pos-1';

export interface CounterDeployment {
  deployment: Deployment;
  issuer: IssuerMasterKeys;
  rig: PcscRig;
  /** A POS command at the store's terminal pos-1, on its own credentials, through the store's broker. */
  command(storeId: string, kind: CommandKind, options?: { commandId?: string; timeoutMs?: number }): Promise<PosReply>;
  /**
   * Starts the store's edge process on the test slot's reader (`powerCut`: under the power-cut shim).
   * Only one edge may run at a time: each keeps its connection to the card in the slot.
   */
  startEdge(storeId: string, options?: { powerCut?: boolean }): Promise<EdgeProcess>;
  /** The store's broker, where its edge and POS terminals connect. */
  brokerUrl(storeId: string): string;
  /** A call to head office's API with a token of the role. */
  api(role: Role, method: string, path: string, body?: object): Promise<{ status: number; json: any }>;
  /** A registered user with a bank account and a card head office initialised, in the slot (no connection kept). */
  userWithCard(
    accountNumber: string,
    options?: { opening?: number },
  ): Promise<{ userId: string; cardId: string; bankId: string; card: SlotCard }>;
  /** The events of a store that head office holds. */
  storeEvents(storeId: string): Promise<ReturnType<typeof domainEventsOf>>;
  close(): Promise<void>;
}

export async function startCounterDeployment(storeIds: string[]): Promise<CounterDeployment> {
  const deployment = await startDeployment(storeIds);
  const issuer = loadIssuerKeys(issuerKeysFile(deployment.hqDataDir));
  const rig = await openPcscRig(issuer.transport);
  const brokers = new Map<string, Broker>();
  const pos = new Map<string, NatsConnection>();
  const terminals = new Map<string, PosTerminal>();
  for (const storeId of storeIds) {
    const broker = await deployment.startBroker(storeId);
    brokers.set(storeId, broker);
    pos.set(storeId, await deployment.connect(broker.url, storeNatsOptions(deployment.bundleDir(storeId), { terminal: TERMINAL })));
    terminals.set(storeId, { storeId, terminalId: TERMINAL, pinKey: loadPinKey(deployment.bundle(storeId).terminal(TERMINAL).pinKey) });
  }
  const edges = new Set<EdgeProcess>();
  const tokens = new Map<Role, string>();
  let commands = 0;

  const command: CounterDeployment['command'] = (storeId, kind, options = {}) =>
    sendPosCommand(
      pos.get(storeId)!,
      terminals.get(storeId)!,
      { commandId: options.commandId ?? `cmd-${++commands}`, ...kind },
      { timeoutMs: options.timeoutMs ?? 20_000, attempts: 1 },
    );

  const api: CounterDeployment['api'] = async (role, method, path, body) => {
    if (!tokens.has(role)) tokens.set(role, await tokenFor(deployment.hqDataDir, role));
    const response = await fetch(`${deployment.host.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${tokens.get(role)}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return { status: response.status, json: await response.json() };
  };

  return {
    deployment,
    issuer,
    rig,
    command,
    api,
    brokerUrl: (storeId) => brokers.get(storeId)!.url,
    async startEdge(storeId, options = {}) {
      const edge = await startEdgeProcess({
        dataDir: deployment.root,
        storeId,
        reader: rig.slot.readerName,
        natsUrl: brokers.get(storeId)!.url,
        ...(options.powerCut ? { powerCutDir: `${deployment.root}/power-cut` } : {}),
        // A command without a kind is answered at once (bad_request) without touching the reader.
        answers: () =>
          sendPosCommand(
            pos.get(storeId)!,
            terminals.get(storeId)!,
            { commandId: `probe-${++commands}` },
            { timeoutMs: 1000, attempts: 1 },
          ).then(
            () => true,
            () => false,
          ),
      });
      edges.add(edge);
      return edge;
    },
    async userWithCard(accountNumber, options = {}) {
      const applied = await api('clerk', 'POST', '/v1/applications', {
        personal: { name: `Customer ${accountNumber}`, address: '3-3 Hakata, Fukuoka', birthDate: '1985-03-03', occupation: 'nurse' },
        bank: { bankName: 'Example Bank', bankCode: '0009', branchCode: '876', accountNumber },
        homeStoreId: storeIds[0],
      });
      if (applied.status !== 201) throw new Error(`application refused: ${JSON.stringify(applied.json)}`);
      const { userId, bankId: digits } = applied.json as { userId: string; bankId: string };
      if (options.opening !== undefined) {
        const opened = await api('bank-feed', 'POST', '/v1/bank-accounts', {
          bankCode: '0009',
          branchCode: '876',
          accountNumber,
          balance: options.opening,
        });
        if (opened.status !== 201) throw new Error(`account not opened: ${JSON.stringify(opened.json)}`);
      }
      // Primary issuance with head office's keys, recorded by head office's writer as its route does.
      const cardId = newCardId();
      const chip = new InProcessCard(newBlankCard(issuer.transport));
      await new ChipTerminal(chip, { keys: issuer, terminalName: 'hq-issuance' }).initialise(issuer, {
        cardId,
        expiry: '2031-12',
        pin: '1234',
        bankId: bankId('0009', '876', accountNumber),
      });
      await deployment.host.hqWriter.append([
        {
          event: { type: 'CardPrimaryIssued', data: { cardId, userId, bankId: digits, expiry: '2031-12-31', keyVersion: 1 } },
          streamId: `card-${cardId}`,
        },
      ]);
      const card = await rig.newCard(chip.state);
      await card.disconnect();
      return { userId, cardId, bankId: digits, card };
    },
    storeEvents: async (storeId) => domainEventsOf(await deployment.host.store.readStream(originStreamName(storeId))),
    async close() {
      for (const edge of edges) await edge.stop();
      await rig.close();
      await deployment.close();
    },
  };
}

/** Polls `probe` until it gives a value. */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; ; ) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
