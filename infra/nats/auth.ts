// Who may do what on NATS. Every principal is an nkey user with subject permissions; on head
// office's hub each store is an account of its own (see accounts.ts), so these permissions are the
// second fence inside an account, the first being what the account imports at all.
//
// Head office runs as several principals, one per part, each allowed only what that part does: the
// ingest reads its consumer and publishes acks, the responders answer stores' requests and may
// publish nothing but service replies, the writer publishes blacklist changes, the snapshot
// publisher keeps the snapshot stream (in an account of its own), the API only connects. No store may create JetStream
// consumers: a consumer's delivery subject is chosen in the request body, which subject
// permissions cannot check, so stores read their snapshot messages only by direct get of a
// subject's last message, whose API subject names the subject.
import { EVENTS_STREAM, HQ_ORIGIN, INGEST_CONSUMER, SNAPSHOTS_STREAM, subjects } from '../../contracts/index.js';

export const HEAD_OFFICE_PARTS = ['ingest', 'responder', 'writer', 'snapshots', 'api'] as const;
export type HeadOfficePart = (typeof HEAD_OFFICE_PARTS)[number];

export type Principal =
  | { role: 'hq'; part: HeadOfficePart }
  | { role: 'store'; storeId: string }
  | { role: 'pos'; storeId: string; terminalId: string }
  | { role: 'auditor' };

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
}

/** A principal and the public nkey (U...) it authenticates with. */
export interface NatsUser {
  principal: Principal;
  publicKey: string;
}

/** Head office's account on the hub; no store id can be "hq", so no store's account can be it. */
export const HQ_ACCOUNT = HQ_ORIGIN;
/** Head office's account holding the stores' snapshot stream (":" is no store id's character). */
export const SNAPSHOTS_ACCOUNT = `${HQ_ORIGIN}:snapshots`;

/**
 * Where nats-server puts the reply subject of a request that crossed into another account through
 * a service import: it makes a fresh `_R_.<token>` and routes whatever is published there back to
 * the requester's own reply subject, in the requester's account, once.
 */
export const SERVICE_REPLY_PREFIX = '_R_';

/** The account a principal's users belong to on the hub: one of head office's, or the store's own. */
export function accountOf(principal: Principal): string {
  if (principal.role === 'store' || principal.role === 'pos') return principal.storeId;
  return principal.role === 'hq' && principal.part === 'snapshots' ? SNAPSHOTS_ACCOUNT : HQ_ACCOUNT;
}

export function principalName(principal: Principal): string {
  switch (principal.role) {
    case 'store':
      return `store ${principal.storeId}`;
    case 'pos':
      return `pos ${principal.storeId}/${principal.terminalId}`;
    case 'hq':
      return `hq ${principal.part}`;
    case 'auditor':
      return 'auditor';
  }
}

/** Under which every POS terminal of the store has its own inbox: where the store's edge may answer. */
const posInboxesOf = (storeId: string) => `_INBOX.pos.${storeId}`;

/**
 * The reply-inbox prefix a principal's connections must use (`inboxPrefix`). Stores use
 * `_INBOX_<id>`; the others live under `_INBOX.`, which no store id can reach, so that a store
 * named like another principal cannot read its replies. Each POS terminal has its own.
 */
export function inboxPrefixOf(principal: Principal): string {
  switch (principal.role) {
    case 'store':
      return subjects.inbox(principal.storeId);
    case 'pos':
      return `${posInboxesOf(principal.storeId)}.${principal.terminalId}`;
    case 'auditor':
      return '_INBOX.auditor';
    case 'hq':
      return `_INBOX.hq.${principal.part}`;
  }
}

const jsApi = (operation: string) => `$JS.API.${operation}`;
const inbox = (principal: Principal) => `${inboxPrefixOf(principal)}.>`;

/** The JetStream API subjects of one durable pull consumer that its owner reads and keeps. */
function consumerApi(stream: string, consumer: string): string[] {
  return [
    jsApi('INFO'),
    jsApi(`STREAM.INFO.${stream}`),
    jsApi(`STREAM.CREATE.${stream}`),
    jsApi(`CONSUMER.CREATE.${stream}.${consumer}`),
    jsApi(`CONSUMER.CREATE.${stream}.${consumer}.>`),
    jsApi(`CONSUMER.DURABLE.CREATE.${stream}.${consumer}`),
    jsApi(`CONSUMER.INFO.${stream}.${consumer}`),
    jsApi(`CONSUMER.MSG.NEXT.${stream}.${consumer}`),
    `$JS.ACK.${stream}.${consumer}.>`,
  ];
}

/** What a store's edge may do; its POS terminals' replies go to their own inboxes, nowhere else. */
function storePermissions(storeId: string): NatsPermissions {
  return {
    publish: [
      subjects.events(storeId),
      subjects.hqRequests(storeId),
      subjects.snapshotDirectGet(subjects.snapshotApi(storeId), storeId),
      `${posInboxesOf(storeId)}.>`,
    ],
    subscribe: [
      subjects.ack(storeId),
      subjects.posAll(storeId),
      subjects.blacklistChanges,
      subjects.snapshot(storeId),
      inbox({ role: 'store', storeId }),
    ],
  };
}

function headOfficePermissions(principal: Extract<Principal, { role: 'hq' }>): NatsPermissions {
  switch (principal.part) {
    case 'ingest':
      return { publish: [...consumerApi(EVENTS_STREAM, INGEST_CONSUMER), subjects.ack('*')], subscribe: [inbox(principal)] };
    case 'responder':
      // Stores' requests reach head office's account through service imports, so every reply goes
      // to a subject the server made and routes back to the asker: nothing else may be published.
      return { publish: [`${SERVICE_REPLY_PREFIX}.>`], subscribe: [subjects.hqRequestsAll, inbox(principal)] };
    case 'writer':
      return { publish: [subjects.blacklistChanges], subscribe: [inbox(principal)] };
    case 'snapshots':
      // Its account holds the snapshot stream and nothing else (the events stream is in another).
      return {
        publish: [
          subjects.snapshotAll,
          jsApi('INFO'),
          ...['INFO', 'CREATE', 'MSG.GET', 'PURGE'].map((operation) => jsApi(`STREAM.${operation}.${SNAPSHOTS_STREAM}`)),
        ],
        subscribe: [inbox(principal)],
      };
    case 'api':
      return { publish: [], subscribe: [] };
  }
}

function permissionsOf(principal: Principal): NatsPermissions {
  switch (principal.role) {
    case 'hq':
      return headOfficePermissions(principal);
    case 'store':
      return storePermissions(principal.storeId);
    case 'pos':
      // Its own subject only: the edge takes the terminal from it.
      return { publish: [subjects.pos(principal.storeId, principal.terminalId)], subscribe: [inbox(principal)] };
    case 'auditor':
      // Read-only: the stream's messages by sequence and live batches, never a consumer (a pull on
      // head office's durable consumer would take its messages).
      return {
        publish: [
          jsApi(`STREAM.INFO.${EVENTS_STREAM}`),
          jsApi(`STREAM.MSG.GET.${EVENTS_STREAM}`),
          jsApi(`DIRECT.GET.${EVENTS_STREAM}`),
          jsApi(`DIRECT.GET.${EVENTS_STREAM}.>`),
        ],
        subscribe: [subjects.eventsAll, subjects.ack('*'), inbox(principal)],
      };
  }
}

export const quote = (text: string) => JSON.stringify(text);
const list = (items: string[]) => `[${items.map(quote).join(', ')}]`;
/** nats-server reads an empty allow list as "no restriction": nothing allowed is a deny of everything. */
const rule = (allow: string[]) => (allow.length === 0 ? `{ deny: ${list(['>'])} }` : `{ allow: ${list(allow)} }`);

/** The entries of a `users = [...]` list (indented by `indent`) admitting exactly these users. */
export function natsUserEntries(users: NatsUser[], indent: string): string[] {
  const seen = new Set<string>();
  return users.flatMap(({ principal, publicKey }) => {
    if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error(`${principalName(principal)}: "${publicKey}" is not an nkey user public key`);
    if (seen.has(publicKey)) throw new Error(`${principalName(principal)}: nkey ${publicKey} is already used by another principal`);
    seen.add(publicKey);
    const permissions = permissionsOf(principal);
    return [
      `${indent}# ${principalName(principal)}`,
      // Clients only: a leaf connection (which may present a store's certificate) never logs in as a principal.
      `${indent}{ nkey: ${quote(publicKey)}, allowed_connection_types: ["STANDARD"], permissions: {`,
      `${indent}  publish: ${rule(permissions.publish)}`,
      `${indent}  subscribe: ${rule(permissions.subscribe)}`,
      `${indent}} }`,
    ];
  });
}

/** An `authorization` block admitting these users into one account (a store's own broker). */
export function natsAuthorizationConfig(users: NatsUser[]): string {
  return ['authorization {', '  users = [', ...natsUserEntries(users, '    '), '  ]', '}', ''].join('\n');
}
