// How a route shows in the OpenAPI document: its zod schemas as JSON Schema, the statuses it
// answers (its own, declared beside it, and the refusals its access rule brings), and from
// ROUTE_ACCESS the bearer scheme and the roles that may call it.
import type { FastifySchema } from 'fastify';
import { PERSONAL_DATA_ROLES, ROLE_DUTIES, ROLES, routeAccess } from './access-policy.js';
import { BEARER_SCHEME } from './access-control.js';
import { zodToOpenApi } from './http-errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The statuses the route answers on its own (its success and its refusals), each with what it carries. */
    responses?: Record<number, string>;
  }
}

/** The security scheme every guarded route names. */
export const securitySchemes = {
  [BEARER_SCHEME]: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      `A JWT from head office (\`cardsys host token --role <role> --subject <name>\`) or from the configured OIDC issuer, with a \`roles\` claim. Roles: ` +
      ROLES.map((role) => `${role} (${ROLE_DUTIES[role]})`).join('; '),
  },
} as const;

const errorBody = (fields: Record<string, unknown> = {}) => ({
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, ...fields },
  required: ['error', 'message'],
});

const strings = { type: 'array', items: { type: 'string' } };

/** The statuses of one route, each with every meaning it has there (a route's own 503 and the access log's, say). */
class Responses {
  private readonly byStatus = new Map<number, { descriptions: string[]; schema: Record<string, unknown> }>();

  add(status: number, description: string, schema: Record<string, unknown> = { type: 'object' }): void {
    const known = this.byStatus.get(status);
    if (known) known.descriptions.push(description);
    else this.byStatus.set(status, { descriptions: [description], schema });
  }

  document(): Record<string, unknown> {
    return Object.fromEntries(
      [...this.byStatus].map(([status, { descriptions, schema }]) => [status, { ...schema, description: descriptions.join('; or ') }]),
    );
  }
}

export function documentRoute(
  method: string,
  url: string,
  schema: FastifySchema | undefined,
  declared: Record<number, string> | undefined,
): Record<string, unknown> {
  const converted: Record<string, unknown> = Object.fromEntries(
    Object.entries(schema ?? {}).map(([key, value]) => [key, zodToOpenApi(value)]),
  );
  const responses = new Responses();
  for (const [status, description] of Object.entries(declared ?? { 200: 'OK' })) responses.add(Number(status), description);
  if (schema?.params || schema?.querystring || schema?.body)
    responses.add(400, 'bad_request: the input named in `field` is not acceptable', errorBody({ field: { type: 'string' } }));
  const rule = routeAccess(method, url);
  if (!rule || rule.roles === 'public') return { ...converted, response: responses.document() };

  const roles = rule.roles;
  responses.add(
    401,
    'unauthenticated: no bearer token, or one that is expired, malformed, for another audience or not signed by the accepted issuer',
    errorBody({
      reason: { type: 'string' },
      accepts: { type: 'object' },
    }),
  );
  responses.add(
    403,
    `forbidden: the token holds none of the roles ${roles.join(', ')}`,
    errorBody({ requiredRoles: strings, roles: strings }),
  );
  if (rule.writes)
    responses.add(
      429,
      'rate_limited: too many writes by this caller; retry after `retryAfterSeconds`',
      errorBody({ retryAfterSeconds: { type: 'integer' } }),
    );
  if (rule.writes || rule.personal)
    responses.add(503, "not_recorded: the request could not be recorded in head office's chain, so it was not served", errorBody());
  const personalNote = rule.personal
    ? ` Shows personal data to ${roles.filter((role) => PERSONAL_DATA_ROLES.includes(role)).join(' and ')} (each such read is recorded in the access log)` +
      (roles.some((role) => !PERSONAL_DATA_ROLES.includes(role))
        ? '; the other roles get it with the personal fields withheld (listed in `withheld`).'
        : '.')
    : '';
  const writeNote = rule.writes ? ' A write: rate limited per caller, recorded in the access log before it is served.' : '';
  const description = [converted.description, `Roles: ${roles.join(', ')}.${personalNote}${writeNote}`].filter(Boolean).join('\n\n');
  return {
    ...converted,
    description,
    response: responses.document(),
    security: [{ [BEARER_SCHEME]: [] }],
    'x-roles': [...roles],
    'x-personal-data': Boolean(rule.personal),
    'x-write': Boolean(rule.writes),
  };
}
