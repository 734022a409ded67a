import { Option, type Command } from 'commander';
import { z } from 'zod';
import { answer } from '../output.js';
import { parseHttpAddress } from './host.js';

interface IssueCardCliOptions {
  user: string;
  pin?: string;
  token?: string;
  http: string;
}

const Pin = z.string().regex(/^\d{4,8}$/, '--pin: PIN must be 4 to 8 digits');

/**
 * `cardsys host issue-card`: primary issuance on the blank card in head office's issuance station.
 * The running head office does the work (it holds the issuer keys, the reader and the stripe
 * encoder, and writes the hq stream), so this asks its API with a clerk's token.
 */
export function registerIssueCardCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  host
    .command('issue-card')
    .description("primary issuance: initialise the blank card in head office's issuance station for a registered user and write its stripe")
    .requiredOption('--user <id>', 'the registered user (POST /v1/applications gave the id)')
    .option('--pin <digits>', 'the card PIN, 4-8 digits (random 4 digits when omitted, printed once for the PIN mailer)')
    .addOption(
      new Option('--token <jwt>', "a clerk's bearer token for head office's API (cardsys host token --role clerk)").env('CARDSYS_TOKEN'),
    )
    .option('--http <host:port>', "the running head office's API", '127.0.0.1:8080')
    .addHelpText(
      'after',
      '\nNeeds `cardsys host` running with --issuance-reader and --issuance-stripe (its reader and stripe encoder).\nExit code 0 only when the card was issued.',
    )
    .action(async (options: IssueCardCliOptions) => {
      const { host: address, port } = parseHttpAddress(options.http);
      if (!options.token)
        throw new Error(
          "--token: primary issuance needs a clerk's token (or CARDSYS_TOKEN); cardsys host token --role clerk --subject <you> makes one",
        );
      if (options.pin !== undefined) {
        const pin = Pin.safeParse(options.pin);
        if (!pin.success) throw new Error(pin.error.issues[0]!.message);
      }
      const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/v1/users/${encodeURIComponent(options.user)}/cards`;
      const body = options.pin ? { pin: options.pin } : {};
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${options.token}` };
      const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) }).catch((error: Error) => {
        throw new Error(`cannot reach head office at ${options.http}: ${error.message}; is \`cardsys host\` running?`);
      });
      const result = (await response.json().catch(() => ({ message: `HTTP ${response.status}` }))) as Record<string, unknown>;
      answer(
        { ok: response.ok, status: response.status, ...result },
        response.ok
          ? `card ${String(result.cardId)} issued to user ${String(result.userId)}: bank id ${String(result.bankId)}, valid until ${String(result.expiry)}, PIN ${String(result.pin)}`
          : `not issued (${response.status}): ${String(result.message)}`,
        response.ok ? 0 : 2,
      );
    });
}
