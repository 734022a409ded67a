// A day at the counter with real processes: head office, two stores, a virtual card moving from
// head office's reader to store A's, and store A's WAN link cut and restored.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../infra/index.js';
import { startLinkProxy, type LinkProxy } from '../infra/index.js';
import { ensurePcscd, leaseVpcdSlot, type SlotLease } from '../infra/pcsc/index.js';
import { storeBundleFiles, issuerKeysFile, headOfficeFiles } from '../host/provisioning/index.js';
import { tokenFor, type Role } from '../host/api/index.js';
import { type RunningBroker, startBroker } from './brokers.js';
import { DemoStepError, Narrator, StepFailure } from './narrator.js';
import { ProcessGroup, type ChildProcessError, type RunningChild } from './processes.js';

export interface DemoOptions {
  /** Where everything goes; wiped first when it holds an earlier demo. */
  dataDir: string;
  /** Where head office's API listens, "host:port". */
  http: string;
  /** Leave everything running until `stopSignal` settles. */
  keepRunning: boolean;
  /** Settles on Ctrl-C / SIGTERM: ends a kept-running demo, interrupts a running one. */
  stopSignal: Promise<string>;
}

export interface DemoSummary {
  apiUrl: string;
  docsUrl: string;
  dataDir: string;
  logDir: string;
  userId: string;
  cardId: string;
  chipBalance: number;
}

/** Marks a data folder the demo made, so that only such a folder is ever wiped. */
const MARKER = '.cardsys-demo';
const STORES = [
  { id: 'A', name: 'Store A', nearby: 'B' },
  { id: 'B', name: 'Store B', nearby: 'A' },
] as const;
const PIN = '1234';
const CUSTOMER_BANK = { bankName: 'Example Bank', bankCode: '0005', branchCode: '123', accountNumber: '4567890' };
const OPENING_BALANCE = 50_000;
const LOAD = 10_000;
const PAY = 5_500;
const OFFLINE_PAYS = [1_200, 800];
const STEPS = 20;
/** The API's callers in the day: the bank's account feed, the clerk, the operator and the auditor. */
const DEMO_ROLES: readonly Role[] = ['bank-feed', 'clerk', 'operator', 'auditor'];

interface Reply {
  ok: boolean;
  code: string;
  message: string;
  cardId: string;
  balance: number;
}

const yen = (amount: number) => `¥${amount.toLocaleString('en-US')}`;

function prepareDataDir(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    if (!existsSync(join(dataDir, MARKER))) {
      throw new Error(`${dataDir} holds files the demo did not make; choose an empty or new folder with --data`);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MARKER), 'made by "cardsys demo"; the next demo run wipes this folder\n');
}

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((settle) => setTimeout(settle, 250));
  }
}

/** Head office's API as the bank's feed, a clerk, an operator or an auditor calls it: each with its own token. */
class HeadOfficeApi {
  constructor(
    readonly url: string,
    private readonly logFile: string,
    private readonly tokens: ReadonlyMap<Role, string>,
  ) {}

  token(role: Role): string {
    const token = this.tokens.get(role);
    if (!token) throw new Error(`the demo holds no ${role} token`);
    return token;
  }

  async call<T>(role: Role, method: string, path: string, body?: unknown, expected = [200, 201]): Promise<T> {
    let response: Response;
    const headers: Record<string, string> = { authorization: `Bearer ${this.token(role)}` };
    try {
      response = await fetch(`${this.url}${path}`, {
        method,
        ...(body === undefined ? { headers } : { headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new StepFailure(`head office's API at ${this.url} cannot be reached: ${(error as Error).message}`, this.logFile);
    }
    const text = await response.text();
    if (!expected.includes(response.status)) throw new StepFailure(`${method} ${path} answered ${response.status}: ${text}`, this.logFile);
    return JSON.parse(text) as T;
  }

  /** The resource, or undefined while head office answers 404. */
  async find<T>(role: Role, path: string): Promise<T | undefined> {
    const found = await this.call<T | { error: string }>(role, 'GET', path, undefined, [200, 404]);
    return (found as { error?: string }).error === 'not_found' ? undefined : (found as T);
  }
}

interface StoreSync {
  lastSeqReceived: number;
  localHeadSeq: number;
  eventsBehind: number;
  lastContactAt: string | null;
}

interface Settlements {
  statements: Array<{ businessDay: string; pays: { count: number; total: number }; owed: number; notes: string[] }>;
  owedTotal: number;
  open: { since: string | null; pays: { count: number; total: number }; owedSoFar: number };
}

interface FloatReport {
  asOf: string;
  byEventTime: { total: number; cards: number };
  byKnowledgeTime: { total: number; cards: number };
}

interface CardView {
  cardId: string;
  userId: string;
  primaryIssuedAt: string | null;
  issuance: { storeId: string; terminalId: string; issuedAt: string | null } | null;
  usage: {
    loadCount: number;
    loadedTotal: number;
    payCount: number;
    paidTotal: number;
    lastBalance: number | null;
    lastStoreId: string | null;
  };
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const dataDir = resolve(options.dataDir);
  const hqDir = join(dataDir, 'hq');
  const storeDir = (id: string) => join(dataDir, 'stores', id);
  const logDir = join(dataDir, 'logs');
  prepareDataDir(dataDir);
  const narrator = new Narrator(STEPS);
  const group = new ProcessGroup(logDir);
  const leases: SlotLease[] = [];
  const links = new Map<string, LinkProxy>();
  const brokers = new Map<string, RunningBroker>();
  let card: RunningChild | undefined;
  let finished = false;

  const died = new Promise<ChildProcessError>((resolve) =>
    group.onUnexpectedExit((error) => {
      narrator.fail(error);
      resolve(error);
    }),
  );
  void options.stopSignal.then((signal) => {
    if (!finished) narrator.fail(new Error(`interrupted by ${signal}`));
  });

  const cleanUp = async () => {
    await group.stopAll();
    for (const link of links.values()) await link.close();
    for (const lease of leases) lease.release();
  };

  try {
    const cardsys = (name: string, args: string[]) => group.runCardsys(name, args);
    const checked = async (name: string, args: string[]) => {
      const result = await cardsys(name, args);
      if (result.code !== 0)
        throw new StepFailure(`cardsys ${args.slice(0, 3).join(' ')} exited with code ${result.code}`, group.logFileOf(name));
      return result.stdout;
    };

    const { hqSlot, slotA } = await narrator.step(
      'pcscd with the virtual card readers (vpcd): a reader at head office and one at store A',
      undefined,
      async () => {
        await ensurePcscd();
        for (let i = 0; i < 2; i++) leases.push(await leaseVpcdSlot(30_000));
        return { hqSlot: leases[0]!.slot, slotA: leases[1]!.slot };
      },
      (slots) => [`head office's reader: "${slots.hqSlot.readerName}"`, `store A's reader:      "${slots.slotA.readerName}"`],
    );

    await narrator.step(
      "Provision head office and stores A and B (B near A): keys, NATS credentials (each POS terminal its own), TLS certificates from head office's CA",
      group.logFileOf('provision'),
      async () => {
        for (const store of STORES) {
          await checked('provision', [
            'host',
            'provision-store',
            '--data',
            dataDir,
            '--store',
            store.id,
            '--name',
            store.name,
            '--nearby',
            store.nearby,
            '--terminals',
            'pos-1,pos-2',
          ]);
        }
      },
      () => [`head office: ${hqDir}`, ...STORES.map((store) => `store ${store.id}: ${storeDir(store.id)} (near ${store.nearby})`)],
    );

    const hub = await narrator.step(
      "Start NATS over TLS: head office's hub (JetStream, one account per store), and each store's broker joined to it over the store's own WAN link",
      group.logFileOf('nats-hub'),
      async () => {
        const [port, leafPort, deadEndPort] = [await freePort(), await freePort(), await freePort()];
        // A leaf adds the address the hub advertises to the ones it dials, which would bypass the
        // store's WAN link: advertise one where nothing listens, so only the link gets a store through.
        await checked('nats-config', [
          'host',
          'nats-config',
          '--data',
          dataDir,
          '--listen',
          `127.0.0.1:${port}`,
          '--leaf-listen',
          `127.0.0.1:${leafPort}`,
          '--leaf-advertise',
          `127.0.0.1:${deadEndPort}`,
        ]);
        const hubBroker = await startBroker(group, 'nats-hub', headOfficeFiles(hqDir).natsServerConfig, port);
        for (const store of STORES) {
          const link = await startLinkProxy({ port: leafPort });
          links.set(store.id, link);
          const brokerPort = await freePort();
          await checked(`broker-config-${store.id}`, [
            'edge',
            'broker-config',
            '--data',
            dataDir,
            '--store',
            store.id,
            '--listen',
            `127.0.0.1:${brokerPort}`,
            '--hub',
            `tls://127.0.0.1:${link.port}`,
          ]);
          brokers.set(
            store.id,
            await startBroker(group, `nats-store-${store.id}`, storeBundleFiles(storeDir(store.id)).brokerConfig, brokerPort),
          );
        }
        return hubBroker;
      },
      (hubBroker) => [
        `hub ${hubBroker.url} (TLS, CA ${headOfficeFiles(hqDir).tlsCa.cert})`,
        ...STORES.map(
          (store) =>
            `store ${store.id}: broker ${brokers.get(store.id)!.url} (TLS), WAN link through ${links.get(store.id)!.url}, leaf login: its certificate`,
        ),
      ],
    );

    const cardFile = join(dataDir, 'cards', 'card-1.json');
    const headOffice = await narrator.step(
      "Start head office: ingest, SQLite event store, read models, query API, and its issuance station (head office's reader and stripe encoder)",
      group.logFileOf('host'),
      async () => {
        const station = ['--issuance-reader', hqSlot.readerName, '--issuance-stripe', `vcard:${cardFile}`];
        const host = group.startCardsys('host', ['host', '--data', dataDir, '--nats', hub.url, '--http', options.http, ...station]);
        const match = await host.waitForOutput(/query API: (\S+)\s+\(OpenAPI docs: (\S+?),/, 60_000);
        // Each caller of the API gets its own token from head office's token key.
        const tokens = new Map<Role, string>();
        for (const role of DEMO_ROLES) tokens.set(role, await tokenFor(hqDir, role, `demo-${role}`));
        return { url: match[1]!, docsUrl: match[2]!, api: new HeadOfficeApi(match[1]!, host.logFile, tokens) };
      },
      (office) => [
        `query API: ${office.url}`,
        `OpenAPI:   ${office.docsUrl}`,
        `tokens for ${DEMO_ROLES.join(', ')}: cardsys host token --data ${dataDir} --role <role> --subject demo-<role>`,
      ],
    );
    const api = headOffice.api;

    await narrator.step(
      "The customer's bank account holds funds: the bank's account feed to head office's inquiry centre (POST /v1/bank-accounts)",
      group.logFileOf('host'),
      () => {
        const { bankCode, branchCode, accountNumber } = CUSTOMER_BANK;
        return api.call<{ bankId: string }>('bank-feed', 'POST', '/v1/bank-accounts', {
          bankCode,
          branchCode,
          accountNumber,
          balance: OPENING_BALANCE,
        });
      },
      (account) => `account ${account.bankId} at ${CUSTOMER_BANK.bankName}: ${yen(OPENING_BALANCE)}`,
    );

    await narrator.step(
      'Start the edges of stores A and B, each on its store broker',
      undefined,
      async () => {
        for (const store of STORES) {
          // Store A's POS terminal has the card reader and reads the virtual card's stripe.
          const counter = store.id === 'A' ? ['--reader', slotA.readerName, '--stripe', `vcard:${cardFile}`] : [];
          const edge = group.startCardsys(`edge-${store.id}`, [
            'edge',
            '--store',
            store.id,
            '--data',
            dataDir,
            '--nats',
            brokers.get(store.id)!.url,
            ...counter,
          ]);
          await edge.waitForOutput(new RegExp(`edge ${store.id}: log head`), 60_000);
        }
        await until(async () => {
          const stores = await api.call<{ stores: Array<{ storeId: string }> }>('operator', 'GET', '/v1/stores');
          return STORES.every((store) => stores.stores.some((known) => known.storeId === store.id)) || undefined;
        }, 'head office to know stores A and B');
      },
      () => [
        ...STORES.map((store) => `edge ${store.id}: data in ${storeDir(store.id)}, log ${group.logFileOf(`edge-${store.id}`)}`),
        `store A's POS terminal pos-1: reader "${slotA.readerName}", stripe reader on the virtual card`,
      ],
    );

    const startCard = async (slot: typeof hqSlot, where: string) => {
      await card?.stop();
      card = group.startCardsys(`vcard-${where}`, ['vcard', '--state', cardFile, '--reader', String(slot.slot)]);
      await card.waitForOutput(/card inserted/, 30_000);
    };
    await narrator.step(
      "A blank card from the factory goes into head office's reader",
      group.logFileOf('vcard-hq'),
      async () => {
        mkdirSync(join(dataDir, 'cards'), { recursive: true });
        await checked('vcard-hq', ['vcard', 'new', '--state', cardFile, '--issuer-keys', issuerKeysFile(hqDir)]);
        await startCard(hqSlot, 'hq');
      },
      () => `virtual card ${cardFile} in "${hqSlot.readerName}"`,
    );

    const user = await narrator.step(
      'The customer applies (POST /v1/applications) with that bank account',
      group.logFileOf('host'),
      async () => {
        const registered = await api.call<{ userId: string; bankId: string }>('clerk', 'POST', '/v1/applications', {
          personal: {
            name: 'Hanako Yamada',
            address: '1-2-3 Tenjin, Chuo-ku, Fukuoka',
            birthDate: '1990-04-01',
            occupation: 'engineer',
            affiliation: 'Example Co.',
          },
          bank: CUSTOMER_BANK,
          homeStoreId: 'A',
        });
        return registered;
      },
      (registered) => `user ${registered.userId}, bank ID ${registered.bankId}, home store A`,
    );

    const issued = await narrator.step(
      'Head office issues the card (cardsys host issue-card): stripe, chip keys, PIN, authentication code',
      group.logFileOf('issue-card'),
      async () => {
        const printed = await checked('issue-card', [
          'host',
          'issue-card',
          '--http',
          new URL(headOffice.url).host,
          '--token',
          api.token('clerk'),
          '--user',
          user.userId,
          '--pin',
          PIN,
          '--json',
        ]);
        const primary = JSON.parse(printed) as { cardId: string; expiry: string };
        const view = await until(() => api.find<CardView>('clerk', `/v1/cards/${primary.cardId}`), "the card in head office's user DB");
        return { ...primary, view };
      },
      (primary) => [
        `card ${primary.cardId}, valid until ${primary.expiry}, PIN ${PIN} (by PIN mailer)`,
        `head office: card of user ${primary.view.userId}, primary issued ${primary.view.primaryIssuedAt}, not yet issued at a store`,
      ],
    );

    const pos = async (kind: string, extra: string[] = []): Promise<Reply> => {
      const name = 'pos-A';
      // The terminal's own credentials and PIN key, found from --data, --store and --terminal.
      const result = await cardsys(name, [
        'pos',
        kind,
        '--store',
        'A',
        '--terminal',
        'pos-1',
        '--data',
        dataDir,
        '--nats',
        brokers.get('A')!.url,
        '--json',
        ...extra,
      ]);
      let reply: Reply;
      try {
        reply = JSON.parse(result.stdout) as Reply;
      } catch {
        throw new StepFailure(`cardsys pos ${kind} printed no JSON reply (exit code ${result.code})`, group.logFileOf(name));
      }
      if (!reply.ok) throw new StepFailure(`store A refused: ${reply.code}: ${reply.message}`, group.logFileOf('edge-A'));
      return reply;
    };
    const said = (reply: Reply) => `POS: ${reply.message}`;

    await narrator.step(
      "The customer takes the card to store A: it moves to store A's reader",
      group.logFileOf('vcard-A'),
      () => startCard(slotA, 'A'),
      () => `card in "${slotA.readerName}"`,
    );

    /** Head office's view of the card once it shows what the store did. */
    const cardAtHeadOffice = (what: string, shows: (view: CardView) => boolean) =>
      until(
        async () => {
          const view = await api.find<CardView>('operator', `/v1/cards/${issued.cardId}`);
          return view && shows(view) ? view : undefined;
        },
        `head office's view of card ${issued.cardId} to show ${what}`,
        60_000,
      );
    const usageLine = (view: CardView) =>
      `head office: ${view.usage.loadCount} load(s) ${yen(view.usage.loadedTotal)}, ${view.usage.payCount} pay(s) ${yen(view.usage.paidTotal)}, ` +
      `chip balance last seen ${view.usage.lastBalance === null ? 'never' : yen(view.usage.lastBalance)}`;

    await narrator.step(
      'Secondary issuance at store A (cardsys pos issue): personal data written to the chip',
      group.logFileOf('edge-A'),
      async () => {
        const reply = await pos('issue');
        const view = await cardAtHeadOffice('the issuance at store A', (card) => card.issuance?.storeId === 'A');
        return { reply, view };
      },
      ({ reply, view }) => [
        said(reply),
        `head office: issued at store ${view.issuance!.storeId}, terminal ${view.issuance!.terminalId}, ${view.issuance!.issuedAt}`,
      ],
    );
    const loaded = await narrator.step(
      `Load ${yen(LOAD)} with the PIN (cardsys pos load): head office authorises and debits the account`,
      group.logFileOf('edge-A'),
      async () => {
        const reply = await pos('load', ['--amount', String(LOAD), '--pin', PIN]);
        return { reply, view: await cardAtHeadOffice('the load', (card) => card.usage.loadCount === 1) };
      },
      ({ reply, view }) => [said(reply), usageLine(view)],
    );
    const paid = await narrator.step(
      `Pay ${yen(PAY)} (cardsys pos pay)`,
      group.logFileOf('edge-A'),
      async () => {
        const reply = await pos('pay', ['--amount', String(PAY)]);
        return { reply, view: await cardAtHeadOffice('the pay', (card) => card.usage.payCount === 1) };
      },
      ({ reply, view }) => [said(reply), usageLine(view)],
    );
    if (loaded.reply.balance !== LOAD || paid.reply.balance !== LOAD - PAY) {
      throw new StepFailure(`the chip balance went ${loaded.reply.balance} → ${paid.reply.balance}, expected ${LOAD} → ${LOAD - PAY}`);
    }

    const edgeStatus = async () => {
      const status = await checked('edge-status-A', ['edge', 'status', '--store', 'A', '--data', dataDir, '--json']);
      return JSON.parse(status) as { headSeq: number; confirmedSeq: number; unconfirmed: number };
    };
    const caughtUp = async (what: string) => {
      const { headSeq } = await edgeStatus();
      return until(
        async () => {
          const sync = await api.find<StoreSync>('operator', '/v1/stores/A/sync');
          return sync && sync.lastSeqReceived >= headSeq ? { sync, headSeq } : undefined;
        },
        what,
        60_000,
      );
    };

    await narrator.step(
      'Store A goes offline (its WAN link is cut); pays go on at the counter',
      group.logFileOf('edge-A'),
      async () => {
        await caughtUp("store A's events at head office before the cut");
        links.get('A')!.cut();
        const replies: Reply[] = [];
        for (const amount of OFFLINE_PAYS) replies.push(await pos('pay', ['--amount', String(amount)]));
        return replies;
      },
      (replies) => ['link cut', ...replies.map(said)],
    );

    await narrator.step(
      "Head office's sync view shows store A behind",
      group.logFileOf('host'),
      async () => {
        const local = await edgeStatus();
        const sync = (await api.find<StoreSync>('operator', '/v1/stores/A/sync'))!;
        if (sync.lastSeqReceived >= local.headSeq)
          throw new StepFailure(`head office already has event ${sync.lastSeqReceived} of store A although its link is cut`);
        return { local, sync };
      },
      ({ local, sync }) => [
        `store A's log: up to event #${local.headSeq}, ${local.unconfirmed} not yet confirmed by head office`,
        `GET /v1/stores/A/sync: last event received #${sync.lastSeqReceived}, last contact ${sync.lastContactAt ?? 'never'} → ${local.headSeq - sync.lastSeqReceived} events behind`,
      ],
    );

    await narrator.step(
      "Store A's link comes back; it catches up",
      group.logFileOf('edge-A'),
      async () => {
        links.get('A')!.restore();
        return caughtUp('store A to catch up');
      },
      ({ sync, headSeq }) =>
        `GET /v1/stores/A/sync: last event received #${sync.lastSeqReceived} of #${headSeq}, ${sync.eventsBehind} behind`,
    );

    const finalView = await narrator.step(
      "Head office's card view matches the chip (cardsys pos read)",
      group.logFileOf('host'),
      async () => {
        const chip = await pos('read');
        const paidTotal = PAY + OFFLINE_PAYS.reduce((sum, amount) => sum + amount, 0);
        const expected = { loadCount: 1, loadedTotal: LOAD, payCount: 1 + OFFLINE_PAYS.length, paidTotal, lastBalance: chip.balance };
        const view = await cardAtHeadOffice(JSON.stringify(expected), ({ usage }) =>
          Object.entries(expected).every(([key, value]) => usage[key as keyof typeof usage] === value),
        );
        return { chip, view };
      },
      ({ chip, view }) => [
        `chip: ${yen(chip.balance)}`,
        `GET /v1/cards/${issued.cardId}: issued at store ${view.issuance?.storeId}; ${view.usage.loadCount} load of ${yen(view.usage.loadedTotal)}, ` +
          `${view.usage.payCount} pays of ${yen(view.usage.paidTotal)} in all, balance ${yen(view.usage.lastBalance ?? 0)}`,
      ],
    );

    await narrator.step(
      "The auditor reads the API's access log (GET /v1/access-log): every write and personal-data read, in head office's chain",
      group.logFileOf('host'),
      async () => {
        const log = await api.call<{ entries: Array<{ subject: string; role: string; method: string; route: string }> }>(
          'auditor',
          'GET',
          '/v1/access-log?limit=1000',
        );
        if (log.entries.length === 0)
          throw new StepFailure('the access log is empty although the day wrote through the API', group.logFileOf('host'));
        return log.entries;
      },
      (entries) => [
        `${entries.length} entries`,
        ...[...new Set(entries.map((entry) => `${entry.subject} (${entry.role}): ${entry.method} ${entry.route}`))].map(
          (line) => `  ${line}`,
        ),
      ],
    );

    await narrator.step(
      "An auditor replays head office's history (cardsys audit replay): chains, signatures, card MACs, balances, read models",
      group.logFileOf('audit'),
      async () => {
        const result = await cardsys('audit', ['audit', 'replay', '--data', dataDir, '--json']);
        let report: { ok: boolean; events: number; findings: unknown[] };
        try {
          report = JSON.parse(result.stdout) as typeof report;
        } catch {
          throw new StepFailure(`cardsys audit replay printed no report (exit code ${result.code})`, group.logFileOf('audit'));
        }
        if (!report.ok)
          throw new StepFailure(
            `the audit found ${report.findings.length} problem(s): ${JSON.stringify(report.findings)}`,
            group.logFileOf('audit'),
          );
        return report;
      },
      (report) => `${report.events} events verified: no findings`,
    );

    await narrator.step(
      "An operator reads head office's books: store A's settlement statement and the float (value held on cards)",
      group.logFileOf('host'),
      async () => {
        const paidTotal = PAY + OFFLINE_PAYS.reduce((sum, amount) => sum + amount, 0);
        const settlements = await until(async () => {
          const found = await api.call<Settlements>('operator', 'GET', '/v1/stores/A/settlements');
          const pays = found.open.pays.total + found.statements.reduce((sum, s) => sum + s.pays.total, 0);
          return pays === paidTotal ? found : undefined;
        }, "store A's pays in head office's books");
        const float = await api.call<FloatReport>('operator', 'GET', '/v1/float');
        if (float.byEventTime.total !== LOAD - paidTotal)
          throw new StepFailure(`the float is ${float.byEventTime.total} yen, expected ${LOAD - paidTotal}`);
        return { settlements, float };
      },
      ({ settlements, float }) => [
        ...settlements.statements.map(
          (s) =>
            `GET /v1/stores/A/settlements: business day ${s.businessDay} closed: ${s.pays.count} pays ${yen(s.pays.total)}, head office owes ${yen(s.owed)}`,
        ),
        `GET /v1/stores/A/settlements: since ${settlements.open.since ?? 'the start'}, ${settlements.open.pays.count} pays ${yen(settlements.open.pays.total)}: ` +
          `head office owes store A ${yen(settlements.open.owedSoFar)} once the business day closes (cut-off 00:00 JST)`,
        `GET /v1/float: ${yen(float.byEventTime.total)} on ${float.byEventTime.cards} card(s) as of ${float.asOf} by when it happened, ` +
          `${yen(float.byKnowledgeTime.total)} by when head office knew it`,
      ],
    );

    const summary: DemoSummary = {
      apiUrl: headOffice.url,
      docsUrl: headOffice.docsUrl,
      dataDir,
      logDir,
      userId: user.userId,
      cardId: issued.cardId,
      chipBalance: finalView.chip.balance,
    };
    await narrator.step(
      'Summary',
      undefined,
      async () => summary,
      () => [
        `query API ${summary.apiUrl} (try ${summary.apiUrl}/v1/cards/${summary.cardId}, ${summary.apiUrl}/v1/users/${summary.userId}, ${summary.apiUrl}/v1/stores)`,
        `every route but /healthz and /docs needs a token: TOKEN=$(cardsys host token --data ${dataDir} --role auditor --subject <you>)`,
        `  curl -H "Authorization: Bearer $TOKEN" ${summary.apiUrl}/v1/cards/${summary.cardId}`,
        `OpenAPI docs ${summary.docsUrl} (JSON at ${summary.docsUrl}/json)`,
        `data in ${dataDir}, each process's log in ${logDir}`,
        options.keepRunning ? 'everything stays up: press Ctrl-C to stop' : 'stopping every process',
      ],
    );
    finished = true;
    if (options.keepRunning) {
      const death = await Promise.race([options.stopSignal.then(() => undefined), died]);
      if (death) throw new DemoStepError('Keep running until Ctrl-C', death.message, death.logFile);
    }
    return summary;
  } finally {
    finished = true;
    await cleanUp();
  }
}
