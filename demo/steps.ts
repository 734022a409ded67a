// The day at the counter, step by step: each step has a title, the log to read when it fails, and
// what it does, returning the lines that tell how it went.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EVENTS_STREAM } from '../contracts/index.js';
import { withoutPassword } from '../eventstore/index.js';
import { freePort } from '../infra/index.js';
import { ensurePcscd, leaseVpcdSlot } from '../infra/pcsc/index.js';
import { headOfficeFiles, hubNodeFiles, hubNodeName, issuerKeysFile, storeBundleFiles } from '../host/provisioning/index.js';
import { tokenFor, type Role } from '../host/api/index.js';
import { startBroker, WanLink } from './brokers.js';
import { eventsStreamPlacement, HUB_NODES, officeRole, prepareDemoSchema, secondOfficeData } from './cluster.js';
import { counted, type Day, type Office, type Reply, said, until, usageLine, yen } from './context.js';
import type { CardView, StoreSyncView } from '../projections/index.js';
import { type FloatReport, HeadOfficeApi, type Settlements } from './head-office-api.js';
import { StepFailure } from './narrator.js';

/** The parts of the day a run may leave out (`cardsys demo --skip`), each with what it shows. */
export const SKIPPABLE_PARTS = {
  offline: "store A's WAN link cut and restored: pays go on offline, head office sees it behind, it catches up",
  failover: 'with --cluster: kill -9 of the hub node leading the events stream, and of the head-office instance holding the writer lease',
  replacement: "the card lost: reported, refused at store A, replaced in head office's station and credited there with its balance",
} as const;
export type DayPart = keyof typeof SKIPPABLE_PARTS;

export interface DayStep {
  title: string;
  /** The part of the day the step belongs to, when it may be left out. */
  part?: DayPart;
  /** The process whose log tells why the step failed, unless the failure names one. */
  log?: string;
  /** Does the step; the lines that tell its outcome. */
  run(day: Day): Promise<string | string[]>;
}

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
/** Store A's pays while a hub node is killed, and the load authorised by head office 2 after head office 1 is. */
const FAILOVER_PAYS = [300, 200];
const FAILOVER_LOAD = 1_000;
const sum = (amounts: readonly number[]) => amounts.reduce((total, amount) => total + amount, 0);
/** The API's callers in the day: the bank's account feed, the clerk, the operator and the auditor. */
const DEMO_ROLES: readonly Role[] = ['bank-feed', 'clerk', 'operator', 'auditor'];

const readers: DayStep = {
  title: 'pcscd with the virtual card readers (vpcd): a reader at head office and one at store A',
  async run(day) {
    await ensurePcscd();
    for (let i = 0; i < 2; i++) day.leases.push(await leaseVpcdSlot(30_000));
    day.slots = { hq: day.leases[0]!.slot, storeA: day.leases[1]!.slot };
    return [`head office's reader: "${day.slots.hq.readerName}"`, `store A's reader:      "${day.slots.storeA.readerName}"`];
  },
};

const provision: DayStep = {
  title:
    "Provision head office and stores A and B (B near A): keys, NATS credentials (each POS terminal its own), TLS certificates from head office's CA",
  log: 'provision',
  async run(day) {
    for (const store of STORES) {
      await day.checked('provision', [
        'host',
        'provision-store',
        '--data',
        day.dataDir,
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
    return [`head office: ${day.hqDir}`, ...STORES.map((store) => `store ${store.id}: ${day.storeDir(store.id)} (near ${store.nearby})`)];
  },
};

/** Starts the hub's nodes (one, or a cluster's) and each store's broker joined to every node over its WAN link. */
async function startNats(day: Day, nodes: number): Promise<string[]> {
  const ports: Array<{ client: number; leaf: number; deadEnd: number; route: number }> = [];
  for (let node = 0; node < nodes; node++)
    ports.push({ client: await freePort(), leaf: await freePort(), deadEnd: await freePort(), route: await freePort() });
  const addresses = (port: (node: (typeof ports)[number]) => number) => ports.map((node) => `127.0.0.1:${port(node)}`).join(',');
  // A leaf adds the addresses the hub advertises to the ones it dials, which would bypass the
  // store's WAN link: advertise ones where nothing listens, so only the link gets a store through.
  await day.checked('nats-config', [
    'host',
    'nats-config',
    '--data',
    day.dataDir,
    '--listen',
    addresses((node) => node.client),
    '--leaf-listen',
    addresses((node) => node.leaf),
    '--leaf-advertise',
    addresses((node) => node.deadEnd),
    ...(nodes > 1 ? ['--cluster', String(nodes), '--route-listen', addresses((node) => node.route)] : []),
  ]);
  // A cluster's nodes wait for each other's routes: they start together.
  day.hubNodes = await Promise.all(
    ports.map((node, index) =>
      startBroker(
        day.group,
        index === 0 ? 'nats-hub' : `nats-hub-${index + 1}`,
        nodes > 1 ? hubNodeFiles(day.hqDir, index + 1).config : headOfficeFiles(day.hqDir).natsServerConfig,
        node.client,
      ),
    ),
  );
  await Promise.all(
    STORES.map(async (store) => {
      const link = await WanLink.to(ports.map((node) => node.leaf));
      day.links.set(store.id, link);
      const brokerPort = await freePort();
      await day.checked(`broker-config-${store.id}`, [
        'edge',
        'broker-config',
        '--data',
        day.dataDir,
        '--store',
        store.id,
        '--listen',
        `127.0.0.1:${brokerPort}`,
        '--hub',
        ...link.hubUrls,
      ]);
      day.brokers.set(
        store.id,
        await startBroker(day.group, `nats-store-${store.id}`, storeBundleFiles(day.storeDir(store.id)).brokerConfig, brokerPort),
      );
    }),
  );
  return [
    nodes > 1
      ? `hub: ${nodes} nodes of one JetStream cluster (TLS routes), head office's streams kept on all ${nodes}: ${day.hubUrl}`
      : `hub ${day.hubUrl} (TLS, CA ${headOfficeFiles(day.hqDir).tlsCa.cert})`,
    ...STORES.map(
      (store) =>
        `store ${store.id}: broker ${day.brokers.get(store.id)!.url} (TLS), leaf of ${nodes > 1 ? 'every hub node' : 'the hub'} through its WAN link (${day.links.get(store.id)!.hubUrls.join(', ')}), leaf login: its certificate`,
    ),
  ];
}

const nats: DayStep = {
  title:
    "Start NATS over TLS: head office's hub (JetStream, one account per store), and each store's broker joined to it over the store's own WAN link",
  log: 'nats-hub',
  run: (day) => startNats(day, 1),
};

const natsCluster: DayStep = {
  title: `Start NATS over TLS: head office's hub as a ${HUB_NODES}-node JetStream cluster (one account per store), and each store's broker joined to every node over the store's own WAN link`,
  log: 'nats-hub',
  run: (day) => startNats(day, HUB_NODES),
};

/** Starts one head-office instance on `data`; its API's address and docs once it serves. */
async function startOffice(day: Day, name: string, data: string, http: string, extra: string[]) {
  const host = day.group.startCardsys(name, [
    'host',
    '--data',
    data,
    '--nats',
    day.hubUrl,
    '--http',
    http,
    ...day.eventStoreArgs,
    ...extra,
  ]);
  const match = await host.waitForOutput(/query API: (\S+)\s+\(OpenAPI docs: (\S+?),/, 60_000);
  const office: Office = { url: match[1]!, docsUrl: match[2]!, logFile: host.logFile, child: host };
  day.offices.push(office);
  return office;
}

/** Head office's API for the day's callers, each with its own token from head office's token key. */
async function useOffice(day: Day, office: Office): Promise<string[]> {
  const tokens = new Map<Role, string>();
  for (const role of DEMO_ROLES) tokens.set(role, await tokenFor(day.hqDir, role, `demo-${role}`));
  day.headOffice = { url: office.url, docsUrl: office.docsUrl, api: new HeadOfficeApi(office.url, office.logFile, tokens) };
  return [
    `query API: ${day.headOffice.url}`,
    `OpenAPI:   ${day.headOffice.docsUrl}`,
    `console:   ${day.headOffice.url}/console/ (watch the day there: sign in with the operator's token the summary prints)`,
    `tokens for ${DEMO_ROLES.join(', ')}: cardsys host token --data ${day.dataDir} --role <role> --subject demo-<role>`,
  ];
}

/** The station where head office initialises blank cards: its reader and stripe encoder. */
const issuanceStation = (day: Day) => ['--issuance-reader', day.slots.hq.readerName, '--issuance-stripe', `vcard:${day.cardFile}`];

const headOffice: DayStep = {
  title:
    "Start head office: ingest, SQLite event store, read models, query API, and its issuance station (head office's reader and stripe encoder)",
  log: 'host',
  async run(day) {
    return useOffice(day, await startOffice(day, 'host', day.dataDir, day.http, issuanceStation(day)));
  },
};

const headOffices: DayStep = {
  title:
    'Start head office as two instances on one PostgreSQL event store: the one holding the writer lease ingests, authorises and issues ' +
    '(with the issuance station), the other serves reads and takes over when the writer fails',
  log: 'host',
  async run(day) {
    const schema = await prepareDemoSchema(day.cluster!.eventStore);
    const writer = await startOffice(day, 'host', day.dataDir, day.http, issuanceStation(day));
    const led = await until(async () => {
      const health = await officeRole(writer.url);
      return health.role === 'leader' ? health : undefined;
    }, 'head office 1 to take the writer lease');
    const lines = await useOffice(day, writer);
    const follower = await startOffice(day, 'host-2', secondOfficeData(day.dataDir, day.hqDir), `127.0.0.1:${await freePort()}`, []);
    await until(async () => ((await officeRole(follower.url)).role === 'follower' ? true : undefined), 'head office 2 to follow');
    const placement = await until(
      () => eventsStreamPlacement(day.hqDir, day.hubUrl).catch(() => undefined),
      `a leader of the events stream ${EVENTS_STREAM}`,
    );
    return [
      ...lines,
      `event store: PostgreSQL ${withoutPassword(day.cluster!.eventStore)} (schema ${schema}), shared by both instances`,
      `head office 1 ${writer.url}: leader (writer lease term ${led.lease?.holder?.term ?? '?'}), log ${day.logOf('host')}`,
      `head office 2 ${follower.url}: follower (writes answered 503 naming head office 1), log ${day.logOf('host-2')}`,
      `hub: JetStream stream ${EVENTS_STREAM} ${placementOf(placement)}`,
    ];
  },
};

const bankAccount: DayStep = {
  title: "The customer's bank account holds funds: the bank's account feed to head office's inquiry centre (POST /v1/bank-accounts)",
  log: 'host',
  async run(day) {
    const { bankCode, branchCode, accountNumber } = CUSTOMER_BANK;
    const account = await day.api.call<{ bankId: string }>('bank-feed', 'POST', '/v1/bank-accounts', {
      bankCode,
      branchCode,
      accountNumber,
      balance: OPENING_BALANCE,
    });
    return `account ${account.bankId} at ${CUSTOMER_BANK.bankName}: ${yen(OPENING_BALANCE)}`;
  },
};

const edges: DayStep = {
  title: 'Start the edges of stores A and B, each on its store broker',
  async run(day) {
    // The stores start side by side, as shops open on their own.
    await Promise.all(
      STORES.map(async (store) => {
        // Store A's POS terminal has the card reader and reads the virtual card's stripe.
        const counter = store.id === 'A' ? ['--reader', day.slots.storeA.readerName, '--stripe', `vcard:${day.cardFile}`] : [];
        const edge = day.group.startCardsys(`edge-${store.id}`, [
          'edge',
          '--store',
          store.id,
          '--data',
          day.dataDir,
          '--nats',
          day.brokers.get(store.id)!.url,
          ...counter,
        ]);
        await edge.waitForOutput(new RegExp(`edge ${store.id}: log head`), 60_000);
      }),
    );
    await until(async () => {
      const stores = await day.api.call<{ stores: Array<{ storeId: string }> }>('operator', 'GET', '/v1/stores');
      return STORES.every((store) => stores.stores.some((known) => known.storeId === store.id)) || undefined;
    }, 'head office to know stores A and B');
    return [
      ...STORES.map((store) => `edge ${store.id}: data in ${day.storeDir(store.id)}, log ${day.logOf(`edge-${store.id}`)}`),
      `store A's POS terminal pos-1: reader "${day.slots.storeA.readerName}", stripe reader on the virtual card`,
    ];
  },
};

const blankCard: DayStep = {
  title: "A blank card from the factory goes into head office's reader",
  log: 'vcard-hq',
  async run(day) {
    mkdirSync(join(day.dataDir, 'cards'), { recursive: true });
    await day.checked('vcard-hq', ['vcard', 'new', '--state', day.cardFile, '--issuer-keys', issuerKeysFile(day.hqDir)]);
    await day.startCard(day.slots.hq, 'hq');
    return `virtual card ${day.cardFile} in "${day.slots.hq.readerName}"`;
  },
};

const application: DayStep = {
  title: 'The customer applies (POST /v1/applications) with that bank account',
  log: 'host',
  async run(day) {
    day.user = await day.api.call<{ userId: string; bankId: string }>('clerk', 'POST', '/v1/applications', {
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
    return `user ${day.user.userId}, bank ID ${day.user.bankId}, home store A`;
  },
};

const primaryIssuance: DayStep = {
  title: 'Head office issues the card (cardsys host issue-card): stripe, chip keys, PIN, authentication code',
  log: 'issue-card',
  async run(day) {
    const printed = await day.checked('issue-card', [
      'host',
      'issue-card',
      '--http',
      new URL(day.headOffice.url).host,
      '--token',
      day.api.token('clerk'),
      '--user',
      day.user.userId,
      '--pin',
      PIN,
      '--json',
    ]);
    const primary = JSON.parse(printed) as { cardId: string; expiry: string };
    const view = await until(() => day.api.find<CardView>('clerk', `/v1/cards/${primary.cardId}`), "the card in head office's user DB");
    day.issued = { ...primary, view };
    return [
      `card ${primary.cardId}, valid until ${primary.expiry}, PIN ${PIN} (by PIN mailer)`,
      `head office: card of user ${view.userId}, primary issued ${view.primaryIssuedAt}, not yet issued at a store`,
    ];
  },
};

const toStoreA: DayStep = {
  title: "The customer takes the card to store A: it moves to store A's reader",
  log: 'vcard-A',
  async run(day) {
    await day.startCard(day.slots.storeA, 'A');
    return `card in "${day.slots.storeA.readerName}"`;
  },
};

const secondaryIssuance: DayStep = {
  title: 'Secondary issuance at store A (cardsys pos issue): personal data written to the chip',
  log: 'edge-A',
  async run(day) {
    const reply = await day.pos('issue');
    const view = await day.cardAtHeadOffice('the issuance at store A', (card) => card.issuance?.storeId === 'A');
    return [
      said(reply),
      `head office: issued at store ${view.issuance!.storeId}, terminal ${view.issuance!.terminalId}, ${view.issuance!.issuedAt}`,
    ];
  },
};

/** A load at store A's terminal with the PIN, noted for the views that must show it. */
async function loadAt(day: Day, amount: number): Promise<Reply> {
  const reply = await day.pos('load', ['--amount', String(amount), '--pin', PIN]);
  day.loads.push(amount);
  return reply;
}

/** A pay at store A's terminal, noted for the views that must show it. */
async function payAt(day: Day, amount: number): Promise<Reply> {
  const reply = await day.pos('pay', ['--amount', String(amount)]);
  day.pays.push(amount);
  return reply;
}

const load: DayStep = {
  title: `Load ${yen(LOAD)} with the PIN (cardsys pos load): head office authorises and debits the account`,
  log: 'edge-A',
  async run(day) {
    const reply = await loadAt(day, LOAD);
    day.loadedBalance = reply.balance;
    return [said(reply), usageLine(await day.cardAtHeadOffice('the load', (card) => card.usage.loadCount === 1))];
  },
};

const pay: DayStep = {
  title: `Pay ${yen(PAY)} (cardsys pos pay)`,
  log: 'edge-A',
  async run(day) {
    const reply = await payAt(day, PAY);
    const view = await day.cardAtHeadOffice('the pay', (card) => card.usage.payCount === 1);
    if (day.loadedBalance !== LOAD || reply.balance !== LOAD - PAY) {
      throw new StepFailure(`the chip balance went ${day.loadedBalance} → ${reply.balance}, expected ${LOAD} → ${LOAD - PAY}`);
    }
    return [said(reply), usageLine(view)];
  },
};

const offline: DayStep = {
  title: 'Store A goes offline (its WAN link is cut); pays go on at the counter',
  part: 'offline',
  log: 'edge-A',
  async run(day) {
    await day.caughtUp("store A's events at head office before the cut");
    day.links.get('A')!.cut();
    const replies: Reply[] = [];
    for (const amount of OFFLINE_PAYS) replies.push(await payAt(day, amount));
    return ['link cut', ...replies.map(said)];
  },
};

const behind: DayStep = {
  title: "Head office's sync view shows store A behind",
  part: 'offline',
  log: 'host',
  async run(day) {
    const local = await day.edgeStatus();
    const sync = (await day.api.find<StoreSyncView>('operator', '/v1/stores/A/sync'))!;
    if (sync.lastSeqReceived >= local.headSeq)
      throw new StepFailure(`head office already has event ${sync.lastSeqReceived} of store A although its link is cut`);
    return [
      `store A's log: up to event #${local.headSeq}, ${local.unconfirmed} not yet confirmed by head office`,
      `GET /v1/stores/A/sync: last event received #${sync.lastSeqReceived}, last contact ${sync.lastContactAt ?? 'never'} → ${local.headSeq - sync.lastSeqReceived} events behind`,
    ];
  },
};

const backOnline: DayStep = {
  title: "Store A's link comes back; it catches up",
  part: 'offline',
  log: 'edge-A',
  async run(day) {
    day.links.get('A')!.restore();
    const { sync, headSeq } = await day.caughtUp('store A to catch up');
    return `GET /v1/stores/A/sync: last event received #${sync.lastSeqReceived} of #${headSeq}, ${sync.eventsBehind} behind`;
  },
};

type Placement = Awaited<ReturnType<typeof eventsStreamPlacement>>;
const placementOf = (placement: Placement) =>
  `led by node ${placement.leader}, copies on ${placement.replicas
    .map((peer) => `${peer.name}${peer.offline ? ' (down)' : peer.current ? '' : ' (not current)'}`)
    .join(', ')}`;

const hubNodeFailover: DayStep = {
  title: `Kill -9 the hub node leading the events stream ${EVENTS_STREAM} while store A pays and replicates: the stream gets a new leader, nothing is lost`,
  part: 'failover',
  log: 'edge-A',
  async run(day) {
    const before = await eventsStreamPlacement(day.hqDir, day.hubUrl);
    const node = day.hubNodes.findIndex((_, index) => hubNodeName(index + 1) === before.leader);
    if (node < 0) throw new StepFailure(`the events stream's leader ${before.leader} is none of the demo's hub nodes`);
    const receivedBefore = (await day.api.find<StoreSyncView>('operator', '/v1/stores/A/sync'))?.lastSeqReceived ?? 0;
    // The pays start as the node dies: the store replicates them into a stream electing a new leader.
    const paying = (async () => {
      const replies: Reply[] = [];
      for (const amount of FAILOVER_PAYS) replies.push(await payAt(day, amount));
      return replies;
    })();
    const killedAt = Date.now();
    await day.hubNodes[node]!.child.kill();
    const survivors = day.hubNodes.filter((_, index) => index !== node).map((broker) => broker.url);
    const after = await until(
      async () => {
        const placement = await eventsStreamPlacement(day.hqDir, survivors.join(',')).catch(() => undefined);
        return placement && placement.leader !== before.leader ? placement : undefined;
      },
      `a new leader of the events stream ${EVENTS_STREAM}`,
      30_000,
      100,
    );
    const electedMs = Date.now() - killedAt;
    const replies = await paying;
    const { sync, headSeq } = await day.caughtUp("store A's pays at head office after the hub node died");
    const view = await day.cardAtHeadOffice(`${counted(day.pays.length, 'pay')}`, (card) => card.usage.payCount >= day.pays.length);
    if (view.usage.payCount !== day.pays.length || view.usage.paidTotal !== sum(day.pays))
      throw new StepFailure(
        `head office counts ${counted(view.usage.payCount, 'pay')} of ${yen(view.usage.paidTotal)}, store A made ${counted(day.pays.length, 'pay')} of ${yen(sum(day.pays))}`,
        day.logOf('host'),
      );
    return [
      `node ${before.leader} (leader of ${EVENTS_STREAM}) killed with kill -9 as store A's terminal paid; the other two keep the cluster's quorum`,
      ...replies.map(said),
      `hub: ${EVENTS_STREAM} ${placementOf(after)}: new leader ${electedMs} ms after the kill`,
      `GET /v1/stores/A/sync: events #${receivedBefore + 1}–#${headSeq} of store A received during the failover, last #${sync.lastSeqReceived}, ${sync.eventsBehind} behind`,
      `${usageLine(view)}: each pay once`,
    ];
  },
};

const headOfficeFailover: DayStep = {
  title: 'Kill -9 head office 1 (the writer): head office 2 takes the writer lease, and a load is authorised through it',
  part: 'failover',
  log: 'host-2',
  async run(day) {
    const [writer, follower] = day.offices;
    if (!writer || !follower) throw new StepFailure('the day has no second head-office instance to take over');
    const killedAt = Date.now();
    await writer.child.kill();
    const led = await until(
      async () => {
        const health = await officeRole(follower.url);
        return health.role === 'leader' ? health : undefined;
      },
      'head office 2 to take the writer lease',
      30_000,
      50,
    );
    const tookMs = Date.now() - killedAt;
    day.headOffice = { url: follower.url, docsUrl: follower.docsUrl, api: day.api.at(follower.url, follower.logFile) };
    const reply = await loadAt(day, FAILOVER_LOAD);
    const view = await day.cardAtHeadOffice('the load authorised by head office 2', (card) => card.usage.loadCount === day.loads.length);
    return [
      `head office 1 ${writer.url} killed with kill -9`,
      `head office 2 ${follower.url}: leader (writer lease term ${led.lease?.holder?.term ?? '?'}) ${tookMs} ms after the kill`,
      said(reply),
      usageLine(view),
    ];
  },
};

const cardMatchesChip: DayStep = {
  title: "Head office's card view matches the chip (cardsys pos read)",
  log: 'host',
  async run(day) {
    const chip = await day.pos('read');
    const expected = {
      loadCount: day.loads.length,
      loadedTotal: sum(day.loads),
      payCount: day.pays.length,
      paidTotal: sum(day.pays),
      lastBalance: chip.balance,
    };
    const view = await day.cardAtHeadOffice(JSON.stringify(expected), ({ usage }) =>
      Object.entries(expected).every(([key, value]) => usage[key as keyof typeof usage] === value),
    );
    day.finalChipBalance = chip.balance;
    return [
      `chip: ${yen(chip.balance)}`,
      `GET /v1/cards/${day.issued.cardId}: issued at store ${view.issuance?.storeId}; ${counted(view.usage.loadCount, 'load')} of ${yen(view.usage.loadedTotal)}, ` +
        `${counted(view.usage.payCount, 'pay')} of ${yen(view.usage.paidTotal)} in all, balance ${yen(view.usage.lastBalance ?? 0)}`,
    ];
  },
};

const accessLog: DayStep = {
  title: "The auditor reads the API's access log (GET /v1/access-log): every write and personal-data read, in head office's chain",
  log: 'host',
  async run(day) {
    const log = await day.api.call<{ entries: Array<{ subject: string; role: string; method: string; route: string }> }>(
      'auditor',
      'GET',
      '/v1/access-log?limit=1000',
    );
    if (log.entries.length === 0)
      throw new StepFailure('the access log is empty although the day wrote through the API', day.logOf('host'));
    return [
      `${log.entries.length} entries`,
      ...[...new Set(log.entries.map((entry) => `${entry.subject} (${entry.role}): ${entry.method} ${entry.route}`))].map(
        (line) => `  ${line}`,
      ),
    ];
  },
};

const auditReplay: DayStep = {
  title: "An auditor replays head office's history (cardsys audit replay): chains, signatures, card MACs, balances, read models",
  log: 'audit',
  async run(day) {
    const result = await day.cardsys('audit', ['audit', 'replay', '--data', day.dataDir, ...day.eventStoreArgs, '--json']);
    let report: { ok: boolean; events: number; findings: unknown[] };
    try {
      report = JSON.parse(result.stdout) as typeof report;
    } catch {
      throw new StepFailure(`cardsys audit replay printed no report (exit code ${result.code})`, day.logOf('audit'));
    }
    if (!report.ok)
      throw new StepFailure(`the audit found ${report.findings.length} problem(s): ${JSON.stringify(report.findings)}`, day.logOf('audit'));
    return `${report.events} events verified: no findings`;
  },
};

const books: DayStep = {
  title: "An operator reads head office's books: store A's settlement statement and the float (value held on cards)",
  log: 'host',
  async run(day) {
    const settlements = await until(async () => {
      const found = await day.api.call<Settlements>('operator', 'GET', '/v1/stores/A/settlements');
      const pays = found.open.pays.total + found.statements.reduce((sum, s) => sum + s.pays.total, 0);
      return pays === sum(day.pays) ? found : undefined;
    }, "store A's pays in head office's books");
    const float = await day.api.call<FloatReport>('operator', 'GET', '/v1/float');
    const held = sum(day.loads) - sum(day.pays);
    if (float.byEventTime.total !== held) throw new StepFailure(`the float is ${float.byEventTime.total} yen, expected ${held}`);
    return [
      ...settlements.statements.map(
        (s) =>
          `GET /v1/stores/A/settlements: business day ${s.businessDay} closed: ${s.pays.count} pays ${yen(s.pays.total)}, head office owes ${yen(s.owed)}`,
      ),
      `GET /v1/stores/A/settlements: since ${settlements.open.since ?? 'the start'}, ${settlements.open.pays.count} pays ${yen(settlements.open.pays.total)}: ` +
        `head office owes store A ${yen(settlements.open.owedSoFar)} once the business day closes (cut-off 00:00 JST)`,
      `GET /v1/float: ${yen(float.byEventTime.total)} on ${float.byEventTime.cards} card(s) as of ${float.asOf} by when it happened, ` +
        `${yen(float.byKnowledgeTime.total)} by when head office knew it`,
    ];
  },
};

/** Where GET /v1/cards/:cardId/replacement says a lost card's balance stands. */
interface Replacement {
  status: string;
  newCardId: string | null;
  transferred: { amount: number; storesWaitedFor: string[] } | null;
}

const lostCard: DayStep = {
  part: 'replacement',
  title:
    'The customer loses the card and a clerk reports it (POST /v1/cards/:cardId/loss): head office blacklists it at once, and store A refuses it',
  log: 'edge-A',
  async run(day) {
    const { cardId } = day.issued;
    const report = await day.api.call<{ reportedBy: string }>('clerk', 'POST', `/v1/cards/${cardId}/loss`, { reason: 'lost on the train' });
    // A read changes nothing: it shows the card unusable once store A's copy of the blacklist has it.
    await until(async () => ((await day.pos('read')).message.includes('not usable') ? true : undefined), "store A's copy of the blacklist");
    const refused = await day.posReply('pay', ['--amount', '100']);
    if (refused.code !== 'blacklisted')
      throw new StepFailure(`store A answered the lost card's pay with ${refused.code}: ${refused.message}`);
    return [
      `reported by ${report.reportedBy}: blacklisted, its ${yen(day.finalChipBalance)} waits for a new card`,
      `POS: ${refused.message}`,
    ];
  },
};

const replacementCard: DayStep = {
  part: 'replacement',
  title:
    'Head office issues the replacement on a blank card in its reader (POST /v1/cards/:cardId/replacement); store A finishes it (cardsys pos issue)',
  log: 'host',
  async run(day) {
    await day.checked('vcard-hq-2', ['vcard', 'new', '--state', day.replacementCardFile, '--issuer-keys', issuerKeysFile(day.hqDir)]);
    await day.startCard(day.slots.hq, 'hq-2', day.replacementCardFile);
    day.replacement = await day.api.call<{ cardId: string }>('clerk', 'POST', `/v1/cards/${day.issued.cardId}/replacement`, { pin: PIN });
    await day.startCard(day.slots.storeA, 'A-2', day.replacementCardFile);
    const issued = await day.pos('issue');
    return [`card ${day.replacement.cardId} for user ${day.user.userId}, PIN ${PIN}`, said(issued)];
  },
};

const replacementCredit: DayStep = {
  part: 'replacement',
  title:
    "The lost card's balance moves to the new card once store A (the only store that saw it) is past the report; the cashier credits it (cardsys pos replacement-credit)",
  log: 'edge-A',
  async run(day) {
    const moved = await until(async () => {
      const found = await day.api.find<Replacement>('operator', `/v1/cards/${day.issued.cardId}/replacement`);
      return found?.transferred ? found : undefined;
    }, "head office to move the lost card's balance");
    const credited = await day.pos('replacement-credit', ['--pin', PIN]);
    if (credited.balance !== day.finalChipBalance)
      throw new StepFailure(`the new card holds ${yen(credited.balance)}, the lost card held ${yen(day.finalChipBalance)}`);
    return [
      `GET /v1/cards/${day.issued.cardId}/replacement: ${moved.status}, ${yen(moved.transferred!.amount)} to card ${moved.newCardId} ` +
        `from the replacement account (waited for store ${moved.transferred!.storesWaitedFor.join(', ')})`,
      said(credited),
    ];
  },
};

const summary: DayStep = {
  title: 'Summary',
  async run(day) {
    const { apiUrl, cardId, userId, docsUrl, consoleUrl, consoleToken, dataDir, logDir } = day.summary;
    return [
      `head office's console ${consoleUrl}: sign in with the operator's token`,
      `  ${consoleToken}`,
      `  (another role's: cardsys host token --data ${dataDir} --role viewer --subject <you>)`,
      `query API ${apiUrl} (try ${apiUrl}/v1/cards/${cardId}, ${apiUrl}/v1/users/${userId}, ${apiUrl}/v1/stores)`,
      `every route but /healthz and /docs needs a token: TOKEN=$(cardsys host token --data ${dataDir} --role auditor --subject <you>)`,
      `  curl -H "Authorization: Bearer $TOKEN" ${apiUrl}/v1/cards/${cardId}`,
      `OpenAPI docs ${docsUrl} (JSON at ${docsUrl}/json)`,
      ...officesLine(day),
      `data in ${dataDir}, each process's log in ${logDir}`,
      day.keepRunning ? 'everything stays up: press Ctrl-C to stop' : 'stopping every process',
    ];
  },
};

/** Where the summary says who writes, with two head-office instances. */
function officesLine(day: Day): string[] {
  const [first, second] = day.offices;
  if (!first || !second) return [];
  return day.headOffice.url === first.url
    ? [
        `head office 2 ${second.url} follows: /healthz on either shows its role and the lease holder; stop head office 1 and it takes the writer lease`,
      ]
    : [
        `head office 2 ${second.url} holds the writer lease since head office 1 was killed: its /healthz shows its role and the lease holder`,
      ];
}

/** The day, in order: on one hub and one head office, or (`clustered`) on the cluster; without the parts in `skip`. */
export const dayOf = (clustered: boolean, skip: readonly DayPart[] = []): readonly DayStep[] =>
  [
    readers,
    provision,
    clustered ? natsCluster : nats,
    clustered ? headOffices : headOffice,
    bankAccount,
    edges,
    blankCard,
    application,
    primaryIssuance,
    toStoreA,
    secondaryIssuance,
    load,
    pay,
    offline,
    behind,
    backOnline,
    ...(clustered ? [hubNodeFailover, headOfficeFailover] : []),
    cardMatchesChip,
    accessLog,
    books,
    // Head office's station is head office 1's: gone once it was killed.
    ...(clustered && !skip.includes('failover') ? [] : [lostCard, replacementCard, replacementCredit]),
    auditReplay,
    summary,
  ].filter((step) => step.part === undefined || !skip.includes(step.part));
