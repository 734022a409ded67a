// Who may call which route of head office's API: the one table the access hook enforces and the
// OpenAPI document shows (DESIGN.md §7: an API caller holds a token with roles; personal data only
// for the roles that need it; no write without evidence).
import type { ApplicationInput } from '../../domain/index.js';
import { bankIdDigits } from '../../card/index.js';

export const ROLES = ['clerk', 'operator', 'bank-feed', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const isRole = (name: string): name is Role => (ROLES as readonly string[]).includes(name);

/** What each role is for, as the OpenAPI document and `cardsys host token --help` say it. */
export const ROLE_DUTIES: Record<Role, string> = {
  clerk: 'applications and primary issuance; sees personal data',
  operator: 'blacklist, alerts, stores, the books (settlements, float, loads); personal data withheld',
  'bank-feed': "the bank's account feed: opens accounts and reads their balances",
  auditor: 'reads everything: personal data, card events and the access log',
  viewer: 'reads without personal data',
};

/** The roles that see personal data: the user DB's personal and bank fields, wherever they show. */
export const PERSONAL_DATA_ROLES: readonly Role[] = ['clerk', 'auditor'];

export interface RouteAccess {
  /** Who may call it; 'public' needs no token. */
  roles: readonly Role[] | 'public';
  /** It changes head office's state: rate limited, and recorded in `hq` before it is served. */
  writes?: boolean;
  /**
   * It shows personal data: recorded in `hq` before it is served to a role that sees personal data;
   * the other roles listed get the same route with the personal fields withheld.
   */
  personal?: boolean;
  /** Ids the (validated) body names, for the record; path parameters are always recorded. */
  bodyIds?: (body: never) => Record<string, string>;
}

const PUBLIC: RouteAccess = { roles: 'public' };
/** Every role that reads head office's views (the bank's feed reads only its accounts). */
const READERS: readonly Role[] = ['clerk', 'operator', 'auditor', 'viewer'];
/** Operators run head office's books (store clearing, the float, loads); auditors read them. */
const BOOKKEEPERS: readonly Role[] = ['operator', 'auditor'];
const accountIds = (body: { bankCode: string; branchCode: string; accountNumber: string }) => ({ bankId: bankIdDigits(body) });

/** Route ("METHOD /path" as the route declares it) → who may call it. A route missing here is refused at start. */
export const ROUTE_ACCESS: Readonly<Record<string, RouteAccess>> = {
  'GET /healthz': PUBLIC,
  'POST /v1/applications': { roles: ['clerk'], writes: true, bodyIds: (body: ApplicationInput) => ({ bankId: bankIdDigits(body.bank) }) },
  'POST /v1/users/:userId/cards': { roles: ['clerk'], writes: true },
  'GET /v1/users/:userId': { roles: PERSONAL_DATA_ROLES, personal: true },
  'GET /v1/cards/:cardId': { roles: READERS, personal: true },
  'GET /v1/cards/:cardId/events': { roles: ['auditor'], personal: true },
  'GET /v1/cards/:cardId/purse': { roles: READERS },
  'POST /v1/cards/:cardId/blacklist': { roles: ['operator'], writes: true },
  'DELETE /v1/cards/:cardId/blacklist': { roles: ['operator'], writes: true },
  // A customer reports a lost card at the desk (a clerk) or by phone to operations (an operator).
  'POST /v1/cards/:cardId/loss': { roles: ['operator', 'clerk'], writes: true },
  // The replacement is a primary issuance: the clerks' job.
  'POST /v1/cards/:cardId/replacement': { roles: ['clerk'], writes: true },
  'GET /v1/cards/:cardId/replacement': { roles: READERS },
  'GET /v1/alerts': { roles: ['operator', 'auditor', 'viewer'] },
  'GET /v1/stores': { roles: READERS },
  'GET /v1/stores/:storeId/sync': { roles: READERS },
  'POST /v1/bank-accounts': { roles: ['bank-feed'], writes: true, bodyIds: accountIds },
  'GET /v1/bank-accounts/:bankId': { roles: ['bank-feed', 'auditor'] },
  'GET /v1/access-log': { roles: ['auditor'] },
  'GET /v1/stores/:storeId/settlements': { roles: BOOKKEEPERS },
  'GET /v1/float': { roles: BOOKKEEPERS },
  'GET /v1/float/cards': { roles: BOOKKEEPERS },
  'GET /v1/float/base-dates': { roles: BOOKKEEPERS },
  // A customer's movements (when and at which store they paid): a clerk prints it for the customer.
  'GET /v1/cards/:cardId/statement': { roles: PERSONAL_DATA_ROLES, personal: true },
  'GET /v1/loads': { roles: BOOKKEEPERS },
  // Head office's console: the page is public (it holds no data), what it shows needs a token.
  'GET /': PUBLIC,
  'GET /console': PUBLIC,
  'GET /console/*': PUBLIC,
  // Prometheus's scrape, like /healthz: counts and store ids, no personal data.
  'GET /metrics': PUBLIC,
  'GET /v1/overview': { roles: READERS },
  'GET /v1/overview/stream': { roles: READERS },
  'GET /v1/activity': { roles: READERS },
  'GET /v1/stores/:storeId/activity': { roles: READERS },
  // Search by bank id (personal data) is for clerks and auditors; recorded like any personal read.
  'GET /v1/cards': { roles: READERS, personal: true },
  'GET /v1/cards/:cardId/timeline': { roles: READERS },
  'POST /v1/alerts/:alertId/resolution': { roles: ['operator'], writes: true },
};

/** The OpenAPI document and its UI (`/docs`, `/docs/json`, …) are public. */
const isDocs = (url: string) => url === '/docs' || url.startsWith('/docs/');

/** The rule for a route as fastify declares it; HEAD follows GET. Undefined: the route is not in the table. */
export function routeAccess(method: string, url: string): RouteAccess | undefined {
  if (isDocs(url)) return PUBLIC;
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}

/**
 * The caller's role that lets it call the route, or undefined. A caller with several roles is
 * served in one that sees personal data where the route shows some.
 */
export function grantingRole(callerRoles: readonly Role[], rule: RouteAccess): Role | undefined {
  if (rule.roles === 'public') return undefined;
  const allowed = rule.roles;
  const granting = callerRoles.filter((role) => allowed.includes(role));
  return (rule.personal ? granting.find((role) => PERSONAL_DATA_ROLES.includes(role)) : undefined) ?? granting[0];
}
