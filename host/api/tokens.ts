// Head office's own API tokens, used when no OIDC issuer is configured: an Ed25519 key in head
// office's keys folder signs short-lived JWTs that name a subject and its roles.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { KeyPair } from '../../contracts/index.js';
import { loadOrCreateApiTokenKey } from '../provisioning/index.js';
import { isRole, ROLES, type Role } from './access-policy.js';

/** The `iss` and `aud` of head office's own tokens. */
export const API_TOKEN_ISSUER = 'urn:cardsys:hq';
export const API_TOKEN_AUDIENCE = 'cardsys-api';
/** The claim that carries a token's roles (an array of role names). */
export const API_TOKEN_ROLES_CLAIM = 'roles';
export const DEFAULT_TOKEN_TTL = '8h';
/** A token is a bearer credential: none lives longer than this. */
const MAX_TTL_SECONDS = 31 * 24 * 3600;

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90s", "30m", "8h", "7d" → seconds; the message names the option. */
export function parseTtl(text: string): number {
  const match = /^(\d{1,6})([smhd])$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2]!]! : NaN;
  if (!match || seconds < 1) throw new Error(`--ttl: expected a duration such as 30m, 8h or 7d, got "${text}"`);
  if (seconds > MAX_TTL_SECONDS) throw new Error(`--ttl: at most ${MAX_TTL_SECONDS / 86_400} days, got "${text}"`);
  return seconds;
}

export interface ApiTokenRequest {
  subject: string;
  roles: readonly string[];
  ttlSeconds?: number;
  /** When the token is issued (tests make expired ones); now by default. */
  now?: Date;
}

export interface ApiToken {
  token: string;
  subject: string;
  roles: Role[];
  issuer: string;
  audience: string;
  tokenId: string;
  issuedAt: string;
  expiresAt: string;
}

/** Signs a token for the subject and roles with head office's token key. */
export async function mintApiToken(key: KeyPair, request: ApiTokenRequest): Promise<ApiToken> {
  const subject = request.subject.trim();
  if (subject.length === 0 || subject.length > 200)
    throw new Error(`--subject: 1-200 characters naming who holds the token, got ${JSON.stringify(request.subject)}`);
  if (request.roles.length === 0) throw new Error(`--role: name at least one role (${ROLES.join(', ')})`);
  const unknown = request.roles.find((role) => !isRole(role));
  if (unknown !== undefined) throw new Error(`--role: unknown role "${unknown}"; choose from ${ROLES.join(', ')}`);
  const roles = [...new Set(request.roles)] as Role[];
  const ttl = request.ttlSeconds ?? parseTtl(DEFAULT_TOKEN_TTL);
  const issuedAt = Math.floor((request.now ?? new Date()).getTime() / 1000);
  const tokenId = randomUUID();
  const token = await new SignJWT({ [API_TOKEN_ROLES_CLAIM]: roles })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.keyId })
    .setIssuer(API_TOKEN_ISSUER)
    .setAudience(API_TOKEN_AUDIENCE)
    .setSubject(subject)
    .setJti(tokenId)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ttl)
    .sign(key.privateKey);
  const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
  return {
    token,
    subject,
    roles,
    issuer: API_TOKEN_ISSUER,
    audience: API_TOKEN_AUDIENCE,
    tokenId,
    issuedAt: iso(issuedAt),
    expiresAt: iso(issuedAt + ttl),
  };
}

/** A token for one role from the token key in head office's folder: what scripts, tests and the demo call the API with. */
export async function tokenFor(hqDataDir: string, role: Role, subject = `${role}-1`): Promise<string> {
  return (await mintApiToken(loadOrCreateApiTokenKey(hqDataDir).key, { subject, roles: [role] })).token;
}
