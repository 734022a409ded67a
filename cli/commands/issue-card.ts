import type { Command } from 'commander';
import { z } from 'zod';
import { say } from '../options.js';
import { parseHttpAddress } from './host.js';

interface IssueCardCliOptions {
  user: string;
  reader: string;
  pin?: string;
  stripe?: string;
  http: string;
  json?: boolean;
}

const Pin = z.string().regex(/^\d{4,8}$/, '--pin: PIN must be 4 to 8 digits');

/**
 * `cardsys host issue-card`: primary issuance on the blank card in one of head office's readers.
 * The running head office does the work (it holds the issuer keys and writes the hq stream), so
 * this asks its API.
 */
export function registerIssueCardCommand(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host');
  host
    .command('issue-card')
    .description("primary issuance: initialise the blank card in head office's reader for a registered user and write its stripe")
    .requiredOption('--user <id>', 'the registered user (POST /v1/applications gave the id)')
    .requiredOption('--reader <name>', 'PC/SC reader holding the blank card, e.g. "Virtual PCD 00 00"')
    .option('--pin <digits>', 'the card PIN, 4-8 digits (random 4 digits when omitted, printed once for the PIN mailer)')
    .option('--stripe <file>', "a virtual card's state file: its stripe is written beside it")
    .option('--http <host:port>', "the running head office's API", '127.0.0.1:8080')
    .option('--json', 'one JSON object on stdout')
    .addHelpText('after', '\nNeeds `cardsys host` running. Exit code 0 only when the card was issued.')
    .action(async (options: IssueCardCliOptions) => {
      const { host: address, port } = parseHttpAddress(options.http);
      if (options.pin !== undefined) {
        const pin = Pin.safeParse(options.pin);
        if (!pin.success) throw new Error(pin.error.issues[0]!.message);
      }
      const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}/v1/users/${encodeURIComponent(options.user)}/cards`;
      const body = {
        reader: options.reader,
        ...(options.pin ? { pin: options.pin } : {}),
        ...(options.stripe ? { stripe: options.stripe } : {}),
      };
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).catch((error: Error) => {
        throw new Error(`cannot reach head office at ${options.http}: ${error.message}; is \`cardsys host\` running?`);
      });
      const answer = (await response.json().catch(() => ({ message: `HTTP ${response.status}` }))) as Record<string, unknown>;
      if (options.json) process.stdout.write(`${JSON.stringify({ ok: response.ok, status: response.status, ...answer })}\n`);
      if (!response.ok) {
        if (!options.json) say(`not issued (${response.status}): ${String(answer.message)}`);
        process.exitCode = 2;
        return;
      }
      if (!options.json)
        say(
          `card ${String(answer.cardId)} issued to user ${String(answer.userId)}: bank id ${String(answer.bankId)}, valid until ${String(answer.expiry)}, PIN ${String(answer.pin)}`,
        );
    });
}
