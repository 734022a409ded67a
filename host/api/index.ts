// Head office's HTTP API: the builder, its access control (roles, tokens, evidence), and the error
// shapes and zod validation other route plugins share.
export { buildApi, type ApiDeps, type CardView } from './build-api.js';
export { ApiRefusal, NotFoundError, strictBody, useZodValidation, type BadRequestBody } from './http-errors.js';
export type { EventView } from './event-view.js';
export { cardEvents } from './card-events.js';
export { ROLES, ROLE_DUTIES, ROUTE_ACCESS, type Role } from './access-policy.js';
export { DEFAULT_WRITE_RATE_LIMIT, parseWriteRateLimit, type AccessControlOptions, type WriteRateLimit } from './access-control.js';
export type { Authenticator, Caller, OidcOptions } from './authentication.js';
export {
  API_TOKEN_AUDIENCE,
  API_TOKEN_ISSUER,
  DEFAULT_TOKEN_TTL,
  mintApiToken,
  parseTtl,
  tokenFor,
  type ApiToken,
  type ApiTokenRequest,
} from './tokens.js';
export { headOfficeAccess, type ApiAccessConfig } from './head-office-access.js';
