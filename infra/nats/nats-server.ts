import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../free-port.js';

export interface NatsServerOptions {
  /** Directory for JetStream data, the generated config and the log; kept across restarts. */
  dataDir: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Extra configuration (nats-server config syntax), e.g. an authorization block. */
  extraConfig?: string;
  /** Where the server's log goes; defaults to <dataDir>/nats-server.log. */
  logFile?: string;
  /**
   * A configuration file to run as it is (a generated hub or store broker configuration), instead
   * of one written with the default listen address, JetStream and `extraConfig`; it must listen on
   * 127.0.0.1:`port`.
   */
  configFile?: string;
}

/** A real nats-server process, for tests and benchmarks: JetStream on its own, or as its configuration file says. */
export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** Graceful stop (SIGTERM), waiting for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): Promise<void>;
  /** Starts the process again on the same port with the same data. */
  start(): Promise<void>;
}

export function natsServerBinary(): string {
  return process.env.NATS_SERVER_BIN ?? 'nats-server';
}

export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  if (options.configFile && options.port === undefined) throw new Error('startNatsServer: a configFile needs the port it listens on');
  const port = options.port ?? (await freePort());
  mkdirSync(options.dataDir, { recursive: true });
  const configFile = options.configFile ?? join(options.dataDir, 'nats-server.conf');
  if (!options.configFile) {
    writeFileSync(
      configFile,
      [
        `listen: "127.0.0.1:${port}"`,
        `jetstream { store_dir: ${JSON.stringify(join(options.dataDir, 'jetstream'))} }`,
        options.extraConfig ?? '',
      ].join('\n'),
    );
  }
  const logFile = options.logFile ?? join(options.dataDir, 'nats-server.log');
  let child: ChildProcess | undefined;

  const exited = (proc: ChildProcess) =>
    new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));

  const server: NatsServer = {
    url: `nats://127.0.0.1:${port}`,
    port,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      const proc = spawn(natsServerBinary(), ['-c', configFile, '-l', logFile], { stdio: 'ignore' });
      child = proc;
      const failed = new Promise<never>((_, reject) => {
        proc.once('error', (error) =>
          reject(new Error(`cannot start nats-server (${natsServerBinary()}): ${error.message}; run "make deps" to install it`)),
        );
        proc.once('exit', (code) => reject(new Error(`nats-server exited with code ${code}; see ${logFile}`)));
      });
      await Promise.race([waitForPort(port, 10_000), failed]);
      proc.removeAllListeners('exit');
      proc.removeAllListeners('error');
    },
    async stop() {
      if (!child) return;
      const proc = child;
      proc.kill('SIGTERM');
      await exited(proc);
    },
    async kill() {
      if (!child) return;
      const proc = child;
      proc.kill('SIGKILL');
      await exited(proc);
    },
  };
  await server.start();
  return server;
}

/** Resolves once something accepts TCP connections on the port (of `host`, this machine by default). */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server did not open port ${port} within ${timeoutMs} ms`);
}
