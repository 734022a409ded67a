// Who may do what on the NATS server. Every principal is an nkey user of nats-server's
// `authorization { users = [...] }` block, with subject permissions that keep each store to the
// subjects carrying its own id. No store may create JetStream consumers: a consumer's delivery
// subject is chosen in the request body, which subject permissions cannot check, so stores read
// their snapshot stream only by direct get, whose API subject names the stream.
import { EVENTS_STREAM, snapshotStream, subjects } from '../../contracts/index.js';

export type Principal = { role: 'hq' } | { role: 'store'; storeId: string } | { role: 'pos'; storeId: string } | { role: 'auditor' };

export interface NatsPermissions {
  publish: string[];
  subscribe: string[];
  /** May publish one reply to the reply subject of each request it received. */
  allowResponses: boolean;
}

/** A principal and the public nkey (U...) it authenticates with. */
export interface NatsUser {
  principal: Principal;
  publicKey: string;
}

export function principalName(principal: Principal): string {
  return principal.role === 'store' || principal.role === 'pos' ? `${principal.role} ${principal.storeId}` : principal.role;
}

/**
 * The reply-inbox prefix a principal's connections must use (`inboxPrefix`). Stores use
 * `_INBOX_<id>`; the others live under `_INBOX.`, which no store id can reach, so that a store
 * named like another principal cannot read its replies.
 */
export function inboxPrefixOf(principal: Principal): string | undefined {
  switch (principal.role) {
    case 'store':
      return subjects.inbox(principal.storeId);
    case 'pos':
      return `_INBOX.pos.${principal.storeId}`;
    case 'auditor':
      return '_INBOX.auditor';
    case 'hq':
      return undefined;
  }
}

const jsApi = (operation: string) => `$JS.API.${operation}`;

function permissionsOf(principal: Principal): NatsPermissions {
  switch (principal.role) {
    case 'hq':
      return { publish: ['>'], subscribe: ['>'], allowResponses: false };
    case 'store': {
      const id = principal.storeId;
      const stream = snapshotStream(id);
      return {
        publish: [
          subjects.events(id),
          `cardsys.hq.*.${id}`,
          jsApi(`STREAM.INFO.${stream}`),
          jsApi(`DIRECT.GET.${stream}`),
          jsApi(`DIRECT.GET.${stream}.>`),
        ],
        subscribe: [subjects.ack(id), subjects.pos(id), 'cardsys.blacklist.>', subjects.snapshot(id), `${subjects.inbox(id)}.>`],
        // Replies to its POS terminals go to their inboxes, known only from each request.
        allowResponses: true,
      };
    }
    case 'pos':
      return {
        publish: [subjects.pos(principal.storeId)],
        subscribe: [`${inboxPrefixOf(principal)}.>`],
        allowResponses: false,
      };
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
        subscribe: [subjects.eventsAll, 'cardsys.ack.>', `${inboxPrefixOf(principal)}.>`],
        allowResponses: false,
      };
  }
}

const quote = (text: string) => JSON.stringify(text);
const list = (items: string[]) => `[${items.map(quote).join(', ')}]`;

/** The `authorization` block for nats-server (2.9+) that admits exactly these users. */
export function natsAuthorizationConfig(users: NatsUser[]): string {
  const seen = new Set<string>();
  const entries = users.map(({ principal, publicKey }) => {
    if (!/^U[A-Z2-7]{55}$/.test(publicKey)) throw new Error(`${principalName(principal)}: "${publicKey}" is not an nkey user public key`);
    if (seen.has(publicKey)) throw new Error(`${principalName(principal)}: nkey ${publicKey} is already used by another principal`);
    seen.add(publicKey);
    const permissions = permissionsOf(principal);
    return [
      `    # ${principalName(principal)}`,
      `    { nkey: ${quote(publicKey)}, permissions: {`,
      `      publish: { allow: ${list(permissions.publish)} }`,
      `      subscribe: { allow: ${list(permissions.subscribe)} }`,
      ...(permissions.allowResponses ? ['      allow_responses: true'] : []),
      '    } }',
    ].join('\n');
  });
  return ['authorization {', '  users = [', ...entries, '  ]', '}', ''].join('\n');
}

/** A complete nats-server configuration for a deployment: listen address, JetStream and users. */
export function natsServerConfig(options: { listen: string; jetstreamDir: string; users: NatsUser[] }): string {
  return [
    `listen: ${quote(options.listen)}`,
    `jetstream { store_dir: ${quote(options.jetstreamDir)} }`,
    natsAuthorizationConfig(options.users),
  ].join('\n');
}
