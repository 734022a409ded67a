import { Option, type Command } from 'commander';
import { CONFIG_ENV } from './config-file.js';
import { createLogger, parseLogFormat, parseLogLevel } from '../infra/index.js';

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

export interface LogCliOptions {
  logFormat?: string;
  logLevel: string;
}

/** --log-format and --log-level, for the commands that run a long-lived part. */
export function withLogOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--log-format <format>',
        'json (one JSON object a line) or pretty (readable); default: pretty on a terminal, json otherwise',
      ).env('CARDSYS_LOG_FORMAT'),
    )
    .addOption(
      new Option('--log-level <level>', 'least severe level logged: trace, debug, info, warn, error, fatal or silent')
        .env('CARDSYS_LOG_LEVEL')
        .default('info'),
    );
}

/** The process's logger, as --log-format and --log-level ask; its lines carry `component`. */
export function loggerOf(options: LogCliOptions, component: string) {
  return createLogger(component, {
    ...(options.logFormat === undefined ? {} : { format: parseLogFormat(options.logFormat) }),
    level: parseLogLevel(options.logLevel),
  });
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
