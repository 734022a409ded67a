// The access control head office runs its API with: tokens of the configured OIDC issuer, or else
// of head office's own token key; evidence recorded through head office's writer.
import type { HqWriter } from '../hq-writer/index.js';
import { loadOrCreateApiTokenKey } from '../provisioning/index.js';
import type { AccessControlOptions, WriteRateLimit } from './access-control.js';
import { hqAccessRecorder } from './access-log.js';
import { embeddedAuthenticator, type OidcOptions, oidcAuthenticator } from './authentication.js';

export interface ApiAccessConfig {
  /** Accept the tokens of this OIDC issuer (and no others); head office's own tokens when absent. */
  oidc?: OidcOptions;
  writeRateLimit?: WriteRateLimit;
}

export function headOfficeAccess(
  hqDataDir: string,
  hqWriter: HqWriter | (() => HqWriter),
  config: ApiAccessConfig = {},
): AccessControlOptions {
  return {
    authenticator: config.oidc ? oidcAuthenticator(config.oidc) : embeddedAuthenticator(loadOrCreateApiTokenKey(hqDataDir).key.publicKey),
    record: hqAccessRecorder(hqWriter),
    ...(config.writeRateLimit ? { writeRateLimit: config.writeRateLimit } : {}),
  };
}
