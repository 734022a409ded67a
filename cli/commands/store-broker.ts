// `cardsys store-broker`: a store's own nats-server on the shop LAN, written from the store's bundle
// and run, joined to head office's hub as a leaf node. The edge and the POS terminals keep working
// through it while the WAN link is down; `cardsys edge broker-config` writes the same configuration
// for a nats-server run some other way.
import { spawn } from 'node:child_process';
import type { Command } from 'commander';
import { natsServerBinary, waitForPort } from '../../infra/nats/index.js';
import { answer, say } from '../output.js';
import { type BrokerCliOptions, withBrokerOptions, writeBroker } from './broker-options.js';

/** Seconds nats-server has to open its port before the broker counts as failed to start. */
const START_TIMEOUT_MS = 15_000;

export function registerStoreBrokerCommand(program: Command): void {
  withBrokerOptions(
    program
      .command('store-broker')
      .description(
        "run a store's broker: write its nats-server configuration from the store's bundle (TLS, the store's edge and POS users, a TLS leaf " +
          'link to the hub logging in with the store certificate) and run nats-server on it',
      ),
  )
    .addHelpText(
      'after',
      [
        '',
        'Needs from provisioning, in <data>/stores/<id>/: store.json, tls-cert.pem, tls-key.pem, ca.pem (store-broker.json for the',
        'default --listen). nats-server (NATS_SERVER_BIN, else on PATH) logs to stderr; SIGHUP reloads it (after a terminal is',
        'provisioned: run `cardsys edge broker-config` again, or restart this), SIGTERM/SIGINT stop it.',
        'With --json: one JSON object on stdout once it listens (file, listen, pid).',
        'Example: cardsys store-broker --data /var/lib/cardsys --store A --hub tls://hq.example:7422',
      ].join('\n'),
    )
    .action(async (options: BrokerCliOptions) => {
      const { file, listen } = writeBroker(options);
      const child = spawn(natsServerBinary(), ['-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
      const exited = new Promise<number>((settle) =>
        child.once('exit', (code, signal) => settle(code ?? (signal === 'SIGTERM' || signal === 'SIGINT' ? 0 : 1))),
      );
      const failedToStart = new Promise<never>((_, reject) => {
        child.once('error', (error) =>
          reject(
            new Error(`cannot run nats-server (${natsServerBinary()}): ${error.message}; install it (make deps) or set NATS_SERVER_BIN`),
          ),
        );
        void exited.then((code) =>
          reject(new Error(`nats-server exited with code ${code} before it listened on ${listen}; see its log above`)),
        );
      });
      await Promise.race([listening(listen, START_TIMEOUT_MS), failedToStart]);
      say(
        `store ${options.store}: broker listening on ${listen} (nats-server process ${child.pid}), leaf link to ${options.hub.join(', ')}`,
      );
      answer({ storeId: options.store, file, listen, pid: child.pid });
      const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
      process.on('SIGHUP', forward('SIGHUP'));
      process.once('SIGTERM', forward('SIGTERM'));
      process.once('SIGINT', forward('SIGINT'));
      const code = await exited;
      if (code !== 0) process.exitCode = code;
    });
}

/** Resolves once nats-server accepts connections on the "host:port" (a wildcard host is reached on this machine). */
function listening(address: string, timeoutMs: number): Promise<void> {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!match) throw new Error(`--listen: expected <host:port>, got "${address}"`);
  const host = match[1] ?? match[2] ?? '';
  return waitForPort(Number(match[3]), timeoutMs, ['', '0.0.0.0', '::'].includes(host) ? '127.0.0.1' : host);
}
