import { Option, type Command } from 'commander';

// Options shared by every process-running command (DESIGN.md §6).

export interface NatsCliOptions {
  nats: string;
  creds?: string;
  tlsCa?: string;
}

export interface DataCliOptions {
  data: string;
}

export function withNatsOptions(command: Command): Command {
  return command
    .addOption(new Option('--nats <url>', 'NATS server URL').env('NATS_URL').default('nats://127.0.0.1:4222'))
    .addOption(new Option('--creds <file>', 'NATS credentials file, where the server requires them').env('NATS_CREDS'))
    .addOption(new Option('--tls-ca <file>', "CA certificate to verify the NATS server's TLS certificate with").env('NATS_TLS_CA'));
}

export function withDataOption(command: Command): Command {
  return command.addOption(new Option('--data <dir>', 'where this process keeps its files').env('CARDSYS_DATA').default('./data'));
}

/** Human messages go to stderr, so that --json output on stdout stays one clean object. */
/** Settles with the signal's name on the first Ctrl-C or SIGTERM: a long-running command stops then. */
export function stopSignal(): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}

export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}
