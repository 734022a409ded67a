// The access hooks on every route of head office's API, driven by ROUTE_ACCESS: a caller is
// authenticated (401) and must hold a role the route allows (403) before its request is even
// parsed; writes are rate limited per caller (429); a write, and a read that shows personal data,
// is recorded in head office's `hq` chain before the handler runs (not recorded: not served, 503).
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiRefusal } from './http-errors.js';
import { grantingRole, PERSONAL_DATA_ROLES, routeAccess, type Role, type RouteAccess } from './access-policy.js';
import { AuthenticationError, TokenKeysUnavailableError, type Authenticator, type Caller } from './authentication.js';

/** Who is calling a route and in which role. */
export interface GrantedAccess {
  caller: Caller;
  role: Role;
  rule: RouteAccess;
  /** This caller sees the personal data the route shows; otherwise it is withheld. */
  personal: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set before the body is parsed on every route but the public ones. */
    access: GrantedAccess | undefined;
  }
}

export type AccessKind = 'write' | 'personal_read';

/** One write or personal-data read, as recorded before it is served. */
export interface AccessEntry {
  caller: Caller;
  role: Role;
  access: AccessKind;
  method: string;
  /** The route as declared, e.g. "/v1/cards/:cardId/blacklist". */
  route: string;
  ids: Record<string, string>;
  remoteAddress: string;
  requestId: string;
}

/** Records an entry durably, or throws. */
export type AccessRecorder = (entry: AccessEntry) => Promise<void>;

export interface WriteRateLimit {
  /** Writes per caller per window. */
  max: number;
  windowMs: number;
}

export const DEFAULT_WRITE_RATE_LIMIT: WriteRateLimit = { max: 120, windowMs: 60_000 };

const WINDOW_UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };

/** "120/1m", "10/30s" → a write rate limit; the message names the option. */
export function parseWriteRateLimit(text: string): WriteRateLimit {
  const match = /^(\d{1,7})\/(\d{1,5})([smh])$/.exec(text.trim());
  const max = match ? Number(match[1]) : NaN;
  const windowMs = match ? Number(match[2]) * WINDOW_UNIT_MS[match[3]!]! : NaN;
  if (!match || max < 1 || windowMs < 1000)
    throw new Error(`--write-rate-limit: expected <writes>/<window> such as 120/1m or 10/30s, got "${text}"`);
  return { max, windowMs };
}

const describeWindow = (ms: number) =>
  ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;

export interface AccessControlOptions {
  authenticator: Authenticator;
  record: AccessRecorder;
  writeRateLimit?: WriteRateLimit;
}

/** What the OpenAPI document calls the bearer token scheme. */
export const BEARER_SCHEME = 'bearerToken';

function unauthenticated(error: AuthenticationError, authenticator: Authenticator): ApiRefusal {
  const challenge =
    error.reason === 'missing'
      ? 'Bearer realm="cardsys"'
      : `Bearer realm="cardsys", error="invalid_token", error_description=${JSON.stringify(error.message)}`;
  return new ApiRefusal(
    401,
    {
      error: 'unauthenticated',
      reason: error.reason,
      message: error.message,
      accepts: { issuer: authenticator.issuer, audience: authenticator.audience },
    },
    { 'www-authenticate': challenge },
  );
}

function forbidden(request: FastifyRequest, caller: Caller, roles: readonly Role[]): ApiRefusal {
  const held = caller.roles.length > 0 ? `holds ${caller.roles.join(', ')}` : 'holds no role this API knows';
  return new ApiRefusal(403, {
    error: 'forbidden',
    message: `${request.method} ${request.routeOptions.url} needs the role ${roles.join(' or ')}; "${caller.subject}" ${held}`,
    requiredRoles: [...roles],
    roles: caller.roles,
  });
}

const stringIds = (value: unknown): Record<string, string> =>
  Object.fromEntries(
    Object.entries((value ?? {}) as Record<string, unknown>).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
  );

/**
 * Installs the hooks on the root instance: call it before any route is registered. A route that is
 * not in ROUTE_ACCESS makes registration fail, so no route is ever served unguarded.
 */
export async function installAccessControl(app: FastifyInstance, options: AccessControlOptions): Promise<void> {
  const { authenticator, record } = options;
  const limit = options.writeRateLimit ?? DEFAULT_WRITE_RATE_LIMIT;
  app.decorateRequest('access', undefined);

  // Before @fastify/rate-limit's own onRoute hook, which reads the per-route setting this adds.
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const rule = routeAccess(method, route.url);
      if (!rule)
        throw new Error(
          `route ${method} ${route.url} has no entry in ROUTE_ACCESS (host/api/access-policy.ts): every route names who may call it`,
        );
      if (rule.writes) route.config = { ...route.config, rateLimit: { max: limit.max, timeWindow: limit.windowMs } };
    }
  });
  await app.register(rateLimit, {
    global: false,
    // Per caller: runs after authentication (a route-level hook follows the root's onRequest).
    keyGenerator: (request) => (request.access ? `${request.access.caller.issuer} ${request.access.caller.subject}` : request.ip),
    errorResponseBuilder: (request, context) =>
      new ApiRefusal(context.statusCode, {
        error: 'rate_limited',
        message: `too many writes: at most ${context.max} per ${describeWindow(limit.windowMs)} for "${request.access?.caller.subject ?? request.ip}"; retry in ${context.after}`,
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });

  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    const rule = url === undefined ? undefined : routeAccess(request.method, url);
    if (rule?.roles === 'public') return;
    let caller: Caller;
    try {
      caller = await authenticator.authenticate(request.headers.authorization);
    } catch (error) {
      if (error instanceof AuthenticationError) throw unauthenticated(error, authenticator);
      if (error instanceof TokenKeysUnavailableError)
        throw new ApiRefusal(503, { error: 'token_keys_unavailable', message: error.message });
      throw error;
    }
    // No such route: a known caller is told so (404), an unknown one learnt nothing above.
    if (!rule) return;
    const role = grantingRole(caller.roles, rule);
    if (!role) throw forbidden(request, caller, rule.roles);
    request.access = { caller, role, rule, personal: Boolean(rule.personal) && PERSONAL_DATA_ROLES.includes(role) };
  });

  // After validation: a request refused for its input changes nothing and shows nothing.
  app.addHook('preHandler', async (request) => {
    const access = request.access;
    const kind: AccessKind | undefined = access?.rule.writes ? 'write' : access?.personal ? 'personal_read' : undefined;
    if (!access || !kind) return;
    const entry: AccessEntry = {
      caller: access.caller,
      role: access.role,
      access: kind,
      method: request.method,
      route: request.routeOptions.url!,
      ids: { ...stringIds(request.params), ...(access.rule.bodyIds?.(request.body as never) ?? {}) },
      remoteAddress: request.ip,
      requestId: request.id,
    };
    try {
      await record(entry);
    } catch (error) {
      request.log.error(error);
      throw new ApiRefusal(503, {
        error: 'not_recorded',
        message: `the request was not served: head office could not record it (${(error as Error).message})`,
      });
    }
  });
}
