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

const refusal = (description: string, fields: Record<string, unknown> = {}) => ({
  description,
  type: 'object',
  properties: { error: { type: 'string' }, message: { type: 'string' }, ...fields },
  required: ['error', 'message'],
});

const strings = { type: 'array', items: { type: 'string' } };

export function documentRoute(method: string, url: string, schema: FastifySchema | undefined, declared: Record<number, string> | undefined): Record<string, unknown> {
  const converted: Record<string, unknown> = Object.fromEntries(Object.entries(schema ?? {}).map(([key, value]) => [key, zodToOpenApi(value)]));
  const response: Record<string, unknown> = {};
  for (const [status, description] of Object.entries(declared ?? { 200: 'OK' })) response[status] = { description, type: 'object' };
  if (schema?.params || schema?.querystring || schema?.body) response[400] = refusal('bad_request: the input named in `field` is not acceptable', { field: { type: 'string' } });
  const rule = routeAccess(method, url);
  if (!rule || rule.roles === 'public') return { ...converted, response };

  const roles = rule.roles;
  response[401] = refusal('unauthenticated: no bearer token, or one that is expired, malformed, for another audience or not signed by the accepted issuer', {
    reason: { type: 'string' },
    accepts: { type: 'object' },
  });
  response[403] = refusal(`forbidden: the token holds none of the roles ${roles.join(', ')}`, { requiredRoles: strings, roles: strings });
  if (rule.writes) response[429] = refusal('rate_limited: too many writes by this caller; retry after `retryAfterSeconds`', { retryAfterSeconds: { type: 'integer' } });
  if (rule.writes || rule.personal) response[503] = refusal('not_recorded: the request could not be recorded in head office\'s chain, so it was not served');
  const personalNote = rule.personal
    ? ` Shows personal data to ${roles.filter((role) => PERSONAL_DATA_ROLES.includes(role)).join(' and ')} (each such read is recorded in the access log)` +
      (roles.some((role) => !PERSONAL_DATA_ROLES.includes(role)) ? '; the other roles get it with the personal fields withheld (listed in `withheld`).' : '.')
    : '';
  const writeNote = rule.writes ? ' A write: rate limited per caller, recorded in the access log before it is served.' : '';
  const description = [converted.description, `Roles: ${roles.join(', ')}.${personalNote}${writeNote}`].filter(Boolean).join('\n\n');
  return { ...converted, description, response, security: [{ [BEARER_SCHEME]: [] }], 'x-roles': [...roles], 'x-personal-data': Boolean(rule.personal), 'x-write': Boolean(rule.writes) };
}
