// The cardsys command as an operator runs it: one-shot commands to completion, long-running ones
// as child processes whose output a test waits on.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const CLI = join(import.meta.dirname, '..', '..', 'bin', 'cardsys.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout as the one JSON object --json prints; fails when stdout is anything else. */
  json<T = Record<string, unknown>>(): T;
}

function jsonOf(stdout: string): unknown {
  const lines = stdout.trim().split('\n');
  if (lines.length !== 1) throw new Error(`expected one JSON line on stdout, got ${lines.length}: ${stdout}`);
  return JSON.parse(lines[0]!);
}

export interface CliEnv {
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** The environment a command runs in: this one without the cardsys variables a developer may have set, plus `extra`. */
function environment(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['NATS_URL', 'NATS_CREDS', 'NATS_TLS_CA', 'CARDSYS_DATA', 'CARDSYS_CONFIG', 'CARDSYS_EVENT_STORE']) delete env[name];
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function cardsys(args: string[], options: CliEnv = {}): CliRun {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: environment(options.env),
    cwd: options.cwd,
    timeout: 120_000,
  });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, json: <T>() => jsonOf(run.stdout) as T };
}

/** As `cardsys`, without blocking this process: for commands answered by servers the test runs in-process. */
export function cardsysAsync(args: string[], options: CliEnv = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: environment(options.env), cwd: options.cwd, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr, json: <T>() => jsonOf(stdout) as T });
      },
    );
  });
}

export interface RunningCli {
  readonly child: ChildProcess;
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match in stdout or stderr (already printed or to come); rejects if the process ends first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** The one JSON object a long-running command started with --json prints on stdout once it serves. */
  answer<T = Record<string, unknown>>(timeoutMs?: number): Promise<T>;
  /** The process's exit code once it ends. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL. */
  kill(): Promise<void>;
}

export function startCardsys(args: string[], options: CliEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: environment(options.env),
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
    for (const listener of listeners) listener();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitIn = (pattern: RegExp, timeoutMs: number, streams: Array<() => string>) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = streams.map((text) => pattern.exec(text())).find((found) => found !== null);
        if (!match) return false;
        done();
        resolve(match);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`cardsys ${args.join(' ')} did not print ${pattern} within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const listener = () => void check();
      if (check()) return;
      listeners.add(listener);
      void exited.then((code) => {
        if (!listeners.has(listener) || check()) return;
        done();
        reject(new Error(`cardsys ${args.join(' ')} exited (${code}) before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`));
      });
    });
  const running: RunningCli = {
    child,
    pid: child.pid!,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 60_000) => waitIn(pattern, timeoutMs, [() => out, () => err]),
    async answer<T>(timeoutMs = 90_000) {
      await waitIn(/\n/, timeoutMs, [() => out]);
      return jsonOf(out) as T;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
  return running;
}
