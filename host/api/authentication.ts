// Who is calling: a bearer JWT verified with `jose`, either against head office's own token key
// (tokens from `cardsys host token`) or against a configured OIDC issuer's published keys.
import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isRole, type Role } from './access-policy.js';
import { API_TOKEN_AUDIENCE, API_TOKEN_ISSUER, API_TOKEN_ROLES_CLAIM } from './tokens.js';

/** An authenticated caller. */
export interface Caller {
  /** The token's `sub`: who the issuer says is calling. */
  subject: string;
  /** The token's `iss`. */
  issuer: string;
  /** The roles the token grants that this API knows; may be empty (then every route answers 403). */
  roles: Role[];
  /** The token's `jti`, when it has one. */
  tokenId?: string;
}

export type AuthenticationFailure =
  | 'missing'
  | 'malformed'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'bad_signature'
  | 'invalid';

/** The caller could not be authenticated: answered 401, the reason and message in the body. */
export class AuthenticationError extends Error {
  override name = 'AuthenticationError';
  constructor(
    readonly reason: AuthenticationFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The issuer's keys could not be fetched: the caller is not at fault (answered 503). */
export class TokenKeysUnavailableError extends Error {
  override name = 'TokenKeysUnavailableError';
}

/** Resolves with the caller named by an Authorization header, or throws AuthenticationError. */
export interface Authenticator {
  /** The issuer whose tokens are accepted, for messages and the OpenAPI document. */
  readonly issuer: string;
  readonly audience: string;
  authenticate(authorization: string | undefined): Promise<Caller>;
}

interface TokenVerification {
  issuer: string;
  audience: string;
  /** The key that signs the tokens, or a key set (JWKS) that holds it. */
  key: KeyObject | JWTVerifyGetKey;
  algorithms: string[];
  /** The claim that carries the caller's roles: an array of names, or one string of names separated by spaces or commas. */
  rolesClaim: string;
}

/** Seconds of clock difference tolerated between the token's issuer and head office. */
const CLOCK_TOLERANCE_SECONDS = 30;
/**
 * Tokens already verified, kept until their `exp`: a caller sends the same token with every request,
 * and its signature and claims do not change. Past `exp` a token goes through jose again.
 */
const MAX_REMEMBERED_TOKENS = 10_000;
/** Asymmetric algorithms an OIDC issuer may sign with; shared-secret and unsigned tokens are never accepted. */
const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

function bearerToken(authorization: string | undefined): string {
  if (!authorization)
    throw new AuthenticationError(
      'missing',
      'no bearer token: send "Authorization: Bearer <token>" (`cardsys host token --role <role> --subject <name>` makes one)',
    );
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw new AuthenticationError('malformed', 'the Authorization header must be "Bearer <token>"');
  return match[1]!;
}

function rolesOf(payload: JWTPayload, claim: string): Role[] {
  const value = payload[claim];
  const names = Array.isArray(value)
    ? value.filter((item): item is string => typeof item === 'string')
    : typeof value === 'string'
      ? value.split(/[\s,]+/)
      : [];
  return [...new Set(names.filter(isRole))];
}

const iso = (seconds: number | undefined) => (seconds === undefined ? 'an unknown time' : new Date(seconds * 1000).toISOString());

function failureOf(error: unknown, verification: TokenVerification): Error {
  if (error instanceof errors.JWTExpired) return new AuthenticationError('expired', `the token expired at ${iso(error.payload.exp)}`);
  if (error instanceof errors.JWTClaimValidationFailed) {
    const { claim, payload } = error;
    if (claim === 'iss')
      return new AuthenticationError(
        'wrong_issuer',
        `the token was issued by ${JSON.stringify(payload.iss ?? null)}; this API accepts tokens issued by "${verification.issuer}"`,
      );
    if (claim === 'aud')
      return new AuthenticationError(
        'wrong_audience',
        `the token is meant for ${JSON.stringify(payload.aud ?? null)}, not for this API ("${verification.audience}")`,
      );
    if (claim === 'nbf' || claim === 'iat')
      return new AuthenticationError('not_yet_valid', `the token is not valid yet (${claim} ${iso(payload[claim] as number | undefined)})`);
    return new AuthenticationError(
      'invalid',
      `the token's "${claim}" claim ${error.reason === 'missing' ? 'is missing' : 'is not acceptable'}`,
    );
  }
  if (error instanceof errors.JWSSignatureVerificationFailed || error instanceof errors.JWKSNoMatchingKey) {
    return new AuthenticationError('bad_signature', `the token is not signed by a key of "${verification.issuer}"`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return new AuthenticationError(
      'bad_signature',
      `tokens signed with this algorithm are not accepted (only ${verification.algorithms.join(', ')})`,
    );
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid || error instanceof errors.JOSENotSupported) {
    return new AuthenticationError('malformed', `the token is not a well-formed JWT: ${error.message}`);
  }
  return new TokenKeysUnavailableError(`the keys of token issuer "${verification.issuer}" cannot be had: ${(error as Error).message}`);
}

function tokenAuthenticator(verification: TokenVerification): Authenticator {
  const options = {
    issuer: verification.issuer,
    audience: verification.audience,
    algorithms: verification.algorithms,
    requiredClaims: ['exp', 'sub'],
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  };
  const verify = (token: string) =>
    typeof verification.key === 'function' ? jwtVerify(token, verification.key, options) : jwtVerify(token, verification.key, options);
  const remembered = new Map<string, { caller: Caller; expiresAtMs: number }>();
  return {
    issuer: verification.issuer,
    audience: verification.audience,
    async authenticate(authorization) {
      const token = bearerToken(authorization);
      const known = remembered.get(token);
      if (known && Date.now() < known.expiresAtMs) return known.caller;
      remembered.delete(token);
      let payload: JWTPayload;
      try {
        ({ payload } = await verify(token));
      } catch (error) {
        throw failureOf(error, verification);
      }
      if (!payload.sub) throw new AuthenticationError('invalid', 'the token names no subject ("sub")');
      const caller: Caller = Object.freeze({
        subject: payload.sub,
        issuer: verification.issuer,
        roles: rolesOf(payload, verification.rolesClaim),
        ...(payload.jti ? { tokenId: payload.jti } : {}),
      });
      // The oldest goes first once the map is full.
      if (remembered.size >= MAX_REMEMBERED_TOKENS) remembered.delete(remembered.keys().next().value!);
      remembered.set(token, { caller, expiresAtMs: payload.exp! * 1000 });
      return caller;
    },
  };
}

/** Tokens signed with head office's own token key (`cardsys host token`). */
export function embeddedAuthenticator(publicKey: KeyObject): Authenticator {
  return tokenAuthenticator({
    issuer: API_TOKEN_ISSUER,
    audience: API_TOKEN_AUDIENCE,
    key: publicKey,
    algorithms: ['EdDSA'],
    rolesClaim: API_TOKEN_ROLES_CLAIM,
  });
}

export interface OidcOptions {
  /** The issuer's identifier, exactly as its tokens carry it in `iss`. */
  issuer: string;
  /** Where the issuer publishes its signing keys (JWKS). */
  jwksUrl: string;
  /** The audience (`aud`) the issuer puts in tokens meant for this API. */
  audience: string;
  /** The claim that carries the roles; "roles" by default. */
  rolesClaim?: string;
}

/** Tokens of an OIDC issuer, checked against the keys it publishes (fetched, cached, refetched for an unknown key id). */
export function oidcAuthenticator(options: OidcOptions): Authenticator {
  let jwksUrl: URL;
  try {
    jwksUrl = new URL(options.jwksUrl);
  } catch {
    throw new Error(`--oidc-jwks: not a URL: "${options.jwksUrl}"`);
  }
  return tokenAuthenticator({
    issuer: options.issuer,
    audience: options.audience,
    key: createRemoteJWKSet(jwksUrl),
    algorithms: OIDC_ALGORITHMS,
    rolesClaim: options.rolesClaim ?? API_TOKEN_ROLES_CLAIM,
  });
}
