import { Option, type Command } from 'commander';
import { DEFAULT_TOKEN_TTL, mintApiToken, parseTtl, ROLE_DUTIES, ROLES } from '../../host/api/index.js';
import { loadOrCreateApiTokenKey } from '../../host/provisioning/index.js';
import { withDataOption, type DataCliOptions } from '../options.js';
import { answer, say } from '../output.js';
import { hqDataDir } from './host-options.js';

interface TokenCliOptions extends DataCliOptions {
  role?: string[];
  subject: string;
  ttl: string;
}

const collectRoles = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((role) => role.trim())
    .filter(Boolean),
];

/** `cardsys host token`: a bearer token for head office's API, signed with head office's token key. */
export function registerTokenCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  withDataOption(
    host
      .command('token')
      .description("print a bearer token for head office's API, signed with head office's token key (<data>/hq/keys/api-token-key.pem)")
      .addOption(
        new Option('--role <role>', `a role the token grants (repeat or comma-separate for several): ${ROLES.join(', ')}`).argParser(
          collectRoles,
        ),
      )
      .requiredOption('--subject <name>', 'who holds the token (a person or a system); recorded with every write and personal-data read')
      .addOption(new Option('--ttl <duration>', 'how long the token is valid, e.g. 30m, 8h, 7d (at most 31d)').default(DEFAULT_TOKEN_TTL))
      .option('--json', 'one JSON object on stdout: token, subject, roles, issuer, audience, tokenId, issuedAt, expiresAt')
      .addHelpText(
        'after',
        `\nRoles:\n${ROLES.map((role) => `  ${role.padEnd(10)} ${ROLE_DUTIES[role]}`).join('\n')}\n\n` +
          'Without --json the token alone goes to stdout:\n' +
          '  TOKEN=$(cardsys host token --role auditor --subject alice)\n' +
          '  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/stores\n' +
          "A head office started with --oidc-issuer accepts only that issuer's tokens, not these.",
      ),
  ).action(async (options: TokenCliOptions) => {
    const ttlSeconds = parseTtl(options.ttl);
    const token = await mintApiToken(loadOrCreateApiTokenKey(hqDataDir(options.data)).key, {
      subject: options.subject,
      roles: options.role ?? [],
      ttlSeconds,
    });
    answer(token, token.token);
    say(
      `token for "${token.subject}" (${token.roles.join(', ')}), valid until ${token.expiresAt}; send it as "Authorization: Bearer <token>"`,
    );
  });
}
