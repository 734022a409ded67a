import { Option, type Command } from 'commander';
import { CONFIG_ENV } from './config-file.js';

// Options shared by every process-running command (DESIGN.md §6).

export interface NatsCliOptions {
  /** Unset when neither the command line, the environment nor the configuration file names one. */
  nats?: string;
  creds?: string;
  tlsCa?: string;
}

export interface DataCliOptions {
  data: string;
}

export function withNatsOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--nats <url>', 'NATS server URL (default: the address provisioning recorded in --data, else nats://127.0.0.1:4222)').env(
        'NATS_URL',
      ),
    )
    .addOption(new Option('--creds <file>', 'NATS credentials file (default: the one provisioning put in --data)').env('NATS_CREDS'))
    .addOption(
      new Option(
        '--tls-ca <file>',
        "CA certificate to verify the NATS server's TLS certificate with (default: the one provisioning put in --data)",
      ).env('NATS_TLS_CA'),
    );
}

export function withDataOption(command: Command): Command {
  return command.addOption(new Option('--data <dir>', 'where this process keeps its files').env('CARDSYS_DATA').default('./data'));
}

/**
 * Every command takes --json (one JSON object on stdout, failures too) and --config (its options
 * from a file, see cli/config-file.ts); commands that describe --json themselves keep their words.
 */
export function withEveryCommandOptions(program: Command): void {
  for (const command of program.commands) {
    if (!command.options.some((option) => option.long === '--json'))
      command.option('--json', 'one JSON object on stdout (failures too: {"ok": false, "error": …}); messages on stderr');
    command.addOption(
      new Option('--config <file>', 'read options from this file (name = value lines; flags and environment override it)').env(CONFIG_ENV),
    );
    withEveryCommandOptions(command);
  }
}

/** Settles with the signal's name on the first Ctrl-C or SIGTERM: a long-running command stops then. */
export function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
