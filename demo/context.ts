// What the day's steps share: the demo's folders and processes, the store brokers and WAN links,
// head office's API, and what earlier steps found out (each step sets what later ones read).
import { join, resolve } from 'node:path';
import type { SlotLease } from '../infra/pcsc/index.js';
import type { RunningBroker, WanLink } from './brokers.js';
import type { CardView, StoreSyncView } from '../projections/index.js';
import type { HeadOfficeApi } from './head-office-api.js';
import { StepFailure } from './narrator.js';
import type { ProcessGroup, RunningChild } from './processes.js';

/** A POS reply as `cardsys pos --json` prints it. */
export interface Reply {
  ok: boolean;
  code: string;
  message: string;
  cardId: string;
  balance: number;
}

type Slot = SlotLease['slot'];

export interface DemoSummary {
  apiUrl: string;
  docsUrl: string;
  /** Head office's console, and the operator's token to sign in there with. */
  consoleUrl: string;
  consoleToken: string;
  dataDir: string;
  logDir: string;
  userId: string;
  cardId: string;
  chipBalance: number;
}

/** With `--cluster`: the hub's three nodes, and head office's two instances on this PostgreSQL event store. */
export interface ClusterChoice {
  /** postgres://user@host:port/database?schema=name */
  eventStore: string;
}

export const yen = (amount: number) => `¥${amount.toLocaleString('en-US')}`;

/** "1 pay", "3 pays". */
export const counted = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`;

export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((settle) => setTimeout(settle, everyMs));
  }
}

/** A running head-office instance: its API, its log, its process. */
export interface Office {
  url: string;
  docsUrl: string;
  logFile: string;
  child: RunningChild;
}

export class Day {
  readonly dataDir: string;
  readonly hqDir: string;
  readonly logDir: string;
  readonly cardFile: string;
  /** The blank card head office makes the lost card's replacement on. */
  readonly replacementCardFile: string;
  readonly leases: SlotLease[] = [];
  readonly links = new Map<string, WanLink>();
  readonly brokers = new Map<string, RunningBroker>();
  private card: RunningChild | undefined;

  // Set by the steps, in the day's order.
  slots!: { hq: Slot; storeA: Slot };
  /** The hub's nodes: one, or a cluster's. */
  hubNodes!: RunningBroker[];
  /** The instance that writes (the only one unless clustered). */
  headOffice!: { url: string; docsUrl: string; api: HeadOfficeApi };
  /** Every head-office instance started, in order (with --cluster two: the writer first). */
  offices: Office[] = [];
  user!: { userId: string; bankId: string };
  issued!: { cardId: string; expiry: string; view: CardView };
  loadedBalance!: number;
  finalChipBalance!: number;
  /** The card that replaces the lost one. */
  replacement!: { cardId: string };
  /** The amounts store A's terminal loaded and paid, in order: what head office's views must show. */
  readonly loads: number[] = [];
  readonly pays: number[] = [];

  constructor(
    dataDir: string,
    /** Where head office's API listens, "host:port". */
    readonly http: string,
    /** Whether everything stays up after the day, until Ctrl-C. */
    readonly keepRunning: boolean,
    readonly group: ProcessGroup,
    /** Set with --cluster. */
    readonly cluster?: ClusterChoice,
  ) {
    this.dataDir = resolve(dataDir);
    this.hqDir = join(this.dataDir, 'hq');
    this.logDir = group.logDir;
    this.cardFile = join(this.dataDir, 'cards', 'card-1.json');
    this.replacementCardFile = join(this.dataDir, 'cards', 'card-2.json');
  }

  /** What the day leaves to look at. */
  get summary(): DemoSummary {
    return {
      apiUrl: this.headOffice.url,
      docsUrl: this.headOffice.docsUrl,
      consoleUrl: `${this.headOffice.url}/console/`,
      consoleToken: this.headOffice.api.token('operator'),
      dataDir: this.dataDir,
      logDir: this.logDir,
      userId: this.user.userId,
      cardId: this.issued.cardId,
      chipBalance: this.finalChipBalance,
    };
  }

  /** What head office's parts connect to: every hub node, comma-separated. */
  get hubUrl(): string {
    return this.hubNodes.map((node) => node.url).join(',');
  }

  /** The `--event-store` option of the commands that open head office's event store. */
  get eventStoreArgs(): string[] {
    return this.cluster ? ['--event-store', this.cluster.eventStore] : [];
  }

  get api(): HeadOfficeApi {
    return this.headOffice.api;
  }

  storeDir(id: string): string {
    return join(this.dataDir, 'stores', id);
  }

  logOf(name: string): string {
    return this.group.logFileOf(name);
  }

  cardsys(name: string, args: string[]) {
    return this.group.runCardsys(name, args);
  }

  /** Runs a `cardsys` subcommand that must succeed; its stdout. */
  async checked(name: string, args: string[]): Promise<string> {
    const result = await this.cardsys(name, args);
    if (result.code !== 0)
      throw new StepFailure(`cardsys ${args.slice(0, 3).join(' ')} exited with code ${result.code}`, this.group.logFileOf(name));
    return result.stdout;
  }

  /** Puts a virtual card (the day's first, unless named) into a reader, taking the card in hand out of the one it was in. */
  async startCard(slot: Slot, where: string, cardFile = this.cardFile): Promise<void> {
    await this.card?.stop();
    this.card = this.group.startCardsys(`vcard-${where}`, ['vcard', '--state', cardFile, '--reader', String(slot.slot)]);
    await this.card.waitForOutput(/card inserted/, 30_000);
  }

  /** One command at store A's POS terminal; a refusal fails the step. */
  async pos(kind: string, extra: string[] = []): Promise<Reply> {
    const reply = await this.posReply(kind, extra);
    if (!reply.ok) throw new StepFailure(`store A refused: ${reply.code}: ${reply.message}`, this.group.logFileOf('edge-A'));
    return reply;
  }

  /** One command at store A's POS terminal, its reply whatever it says. */
  async posReply(kind: string, extra: string[] = []): Promise<Reply> {
    const name = 'pos-A';
    // The terminal's own credentials, PIN key and CA, found from --data, --store and --terminal.
    const result = await this.cardsys(name, [
      'pos',
      kind,
      '--store',
      'A',
      '--terminal',
      'pos-1',
      '--data',
      this.dataDir,
      '--nats',
      this.brokers.get('A')!.url,
      '--json',
      ...extra,
    ]);
    let reply: Reply;
    try {
      reply = JSON.parse(result.stdout) as Reply;
    } catch {
      throw new StepFailure(`cardsys pos ${kind} printed no JSON reply (exit code ${result.code})`, this.group.logFileOf(name));
    }
    return reply;
  }

  /** Head office's view of the card once it shows what the store did. */
  cardAtHeadOffice(what: string, shows: (view: CardView) => boolean): Promise<CardView> {
    return until(
      async () => {
        const view = await this.api.find<CardView>('operator', `/v1/cards/${this.issued.cardId}`);
        return view && shows(view) ? view : undefined;
      },
      `head office's view of card ${this.issued.cardId} to show ${what}`,
      60_000,
    );
  }

  /** Store A's own account of its log. */
  async edgeStatus(): Promise<{ headSeq: number; confirmedSeq: number; unconfirmed: number }> {
    const status = await this.checked('edge-status-A', ['edge', 'status', '--store', 'A', '--data', this.dataDir, '--json']);
    return JSON.parse(status) as { headSeq: number; confirmedSeq: number; unconfirmed: number };
  }

  /** Waits until head office has every event store A has logged. */
  async caughtUp(what: string): Promise<{ sync: StoreSyncView; headSeq: number }> {
    const { headSeq } = await this.edgeStatus();
    return until(
      async () => {
        const sync = await this.api.find<StoreSyncView>('operator', '/v1/stores/A/sync');
        return sync && sync.lastSeqReceived >= headSeq ? { sync, headSeq } : undefined;
      },
      what,
      60_000,
    );
  }

  /** Stops every process, closes the links and gives the readers back. */
  async close(): Promise<void> {
    await this.group.stopAll();
    for (const link of this.links.values()) await link.close();
    for (const lease of this.leases) lease.release();
  }
}

export const said = (reply: Reply) => `POS: ${reply.message}`;

export const usageLine = (view: CardView) =>
  `head office: ${view.usage.loadCount} load(s) ${yen(view.usage.loadedTotal)}, ${view.usage.payCount} pay(s) ${yen(view.usage.paidTotal)}, ` +
  `chip balance last seen ${view.usage.lastBalance === null ? 'never' : yen(view.usage.lastBalance)}`;
