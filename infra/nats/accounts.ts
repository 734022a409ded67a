// Head office's hub: one NATS account per store, and two of head office's own: "hq" with the events
// stream (JetStream) and every head-office principal but one, and "hq:snapshots" with the snapshot
// stream (every store's subjects) and the snapshot publisher. A store's account sees only what it imports, each
// import naming the store's own id:
//
//   from hq            service  cardsys.events.<id>              its batches, into the events stream (PubAck back)
//                      service  cardsys.hq.*.<id>                its requests: sync, lookup, auth, blacklist
//                      stream   cardsys.ack.<id>                 head office's acks
//                      stream   cardsys.blacklist.changes        the one subject every store hears
//   from hq:snapshots  stream   cardsys.snapshot.<id>.*          "something new in your snapshot"
//                      service  $JS.API.DIRECT.GET.CARDSYS_SNAPSHOTS.cardsys.snapshot.<id>.*
//                                                                 direct gets of the last message on its own subjects, imported
//                                                                 as cardsys.js.<id>.DIRECT.GET.… (subjects.snapshotApi)
//
// Every store-scoped export carries `account_token_position`, so nats-server itself refuses an
// import of another store's subject (an account's name is its store id); head office's exports stay
// a handful whatever the number of stores (nats-server 2.9 walks every service export of an account
// when adding one, so per-store exports would make start-up quadratic). A store's events, acks, POS
// commands and replies never leave its account except through these imports; a request crossing
// into head office's account gets a reply subject made by the server, which routes the answer back
// to the asker only.
//
// Per store on the hub: one account with its edge and POS users and six imports, one leaf user, and
// its subjects in the one snapshot stream; nothing per store in head office's accounts, and nothing
// a reload of the hub cannot change.
import { subjects } from '../../contracts/index.js';
import { accountOf, HQ_ACCOUNT, natsUserEntries, quote, SNAPSHOTS_ACCOUNT, type NatsUser } from './auth.js';

type StoreSubject = (storeId: string) => string;

/** Which token of the subject is the store id (1-based), as `account_token_position` counts. */
function storeTokenPosition(subject: StoreSubject): number {
  const marker = '%';
  const position = subject(marker).split('.').indexOf(marker) + 1;
  if (position === 0) throw new Error(`subject ${subject('<id>')} has no store id token`);
  return position;
}

interface StoreScoped {
  /** The subject the store's account knows the import by, when not the exported one. */
  as?: StoreSubject;
  from: typeof HQ_ACCOUNT | typeof SNAPSHOTS_ACCOUNT;
  kind: 'service' | 'stream';
  subject: StoreSubject;
}

/** Exported once for all stores; each store imports its own subject of each. */
const STORE_SCOPED: StoreScoped[] = [
  { from: HQ_ACCOUNT, kind: 'service', subject: subjects.events },
  { from: HQ_ACCOUNT, kind: 'service', subject: subjects.hqRequests },
  { from: HQ_ACCOUNT, kind: 'stream', subject: subjects.ack },
  { from: SNAPSHOTS_ACCOUNT, kind: 'stream', subject: subjects.snapshot },
  // Direct gets of the last message on one of its subjects, the subject in the API subject: never
  // the direct get with a body, which names any subject or sequence of the stream.
  {
    from: SNAPSHOTS_ACCOUNT,
    kind: 'service',
    subject: (storeId) => subjects.snapshotDirectGet('$JS.API', storeId),
    as: (storeId) => subjects.snapshotDirectGet(subjects.snapshotApi(storeId), storeId),
  },
];

/** A store's leaf connection is known by this URI in its TLS certificate (see tls.ts). */
export const leafIdentityOf = (storeId: string) => `urn:cardsys:store:${storeId}`;

function storeImports(storeId: string): string[] {
  const from = (account: string, kind: 'service' | 'stream', subject: string, as?: string) =>
    `      { ${kind}: { account: ${quote(account)}, subject: ${quote(subject)} }${as ? `, to: ${quote(as)}` : ''} }`;
  return [
    ...STORE_SCOPED.map(({ from: account, kind, subject, as }) => from(account, kind, subject(storeId), as?.(storeId))),
    from(HQ_ACCOUNT, 'stream', subjects.blacklistChanges),
  ];
}

function exportsOf(account: string): string[] {
  return [
    ...STORE_SCOPED.filter(({ from }) => from === account).map(
      ({ kind, subject }) => `      { ${kind}: ${quote(subject('*'))}, account_token_position: ${storeTokenPosition(subject)} }`,
    ),
    ...(account === HQ_ACCOUNT ? [`      { stream: ${quote(subjects.blacklistChanges)} }`] : []),
  ];
}

/** The stores among these users, in order of first appearance. */
function storeIdsOf(users: NatsUser[]): string[] {
  return [
    ...new Set(users.flatMap(({ principal }) => (principal.role === 'store' || principal.role === 'pos' ? [principal.storeId] : []))),
  ];
}

/**
 * The hub's `accounts` block: head office's users in its two accounts, each store's edge and POS
 * terminals in the store's own account.
 */
export function natsAccountsConfig(users: NatsUser[]): string {
  const storeIds = storeIdsOf(users);
  const byAccount = new Map<string, NatsUser[]>();
  for (const user of users) byAccount.set(accountOf(user.principal), [...(byAccount.get(accountOf(user.principal)) ?? []), user]);
  const usersOf = (account: string, extra: string[] = []) => [
    '    users = [',
    ...natsUserEntries(byAccount.get(account) ?? [], '      '),
    ...extra,
    '    ]',
  ];
  // A store's broker logs in on the leaf port with the store's certificate (verify_and_map): the URI
  // it carries names this user, which only a leaf connection may be. Here rather than in the leaf
  // port's own authorization block, which nats-server 2.9 cannot reload: a store provisioned later
  // is then admitted by a reload.
  const leafLogin = (storeId: string) => [
    `      # store ${storeId}'s broker (its certificate)`,
    `      { user: ${quote(leafIdentityOf(storeId))}, allowed_connection_types: ["LEAFNODE"] }`,
  ];
  const account = (name: string, body: string[]) => [`  ${quote(name)}: {`, ...body, '  }'];
  const headOffice = (name: string) =>
    account(name, ['    jetstream: enabled', ...usersOf(name), '    exports = [', ...exportsOf(name), '    ]']);
  return [
    '# Generated by cardsys from the provisioned principals; do not edit.',
    'accounts {',
    ...headOffice(HQ_ACCOUNT),
    ...headOffice(SNAPSHOTS_ACCOUNT),
    ...storeIds.flatMap((storeId) =>
      account(storeId, [...usersOf(storeId, leafLogin(storeId)), '    imports = [', ...storeImports(storeId), '    ]']),
    ),
    '}',
    '',
  ].join('\n');
}
