// The demo's child processes: each one's output goes to its own log file, a child that dies on its
// own fails the step in progress, and every child is stopped (SIGTERM, then SIGKILL) at the end or
// on any failure, so the demo leaves no orphans.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { CARDSYS_BIN } from '../infra/index.js';

const STOP_GRACE_MS = 10_000;
/** Output lines kept for waitForOutput: enough for any start-up banner. */
const MAX_KEPT_LINES = 1000;

/** A child process that failed, named with the log file that tells why. */
export class ChildProcessError extends Error {
  override name = 'ChildProcessError';
  constructor(
    message: string,
    readonly logFile: string,
  ) {
    super(message);
  }
}

export interface RunningChild {
  readonly name: string;
  readonly logFile: string;
  /** Resolves with the first output line matching `pattern` (already printed or still to come). */
  waitForOutput(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray>;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL at once, as a crash or a pulled plug would end it; resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface CommandResult {
  code: number;
  stdout: string;
}

interface Tracked {
  name: string;
  proc: ChildProcess;
  log: WriteStream;
  stopping: boolean;
  gone: Promise<void>;
}

export class ProcessGroup {
  private readonly children: Tracked[] = [];
  private readonly deathListeners = new Set<(error: ChildProcessError) => void>();

  constructor(readonly logDir: string) {
    mkdirSync(logDir, { recursive: true });
  }

  logFileOf(name: string): string {
    return join(this.logDir, `${name}.log`);
  }

  /** Starts a long-running `cardsys` subcommand. */
  startCardsys(name: string, args: string[]): RunningChild {
    return this.start(name, process.execPath, [CARDSYS_BIN, ...args]);
  }

  start(name: string, command: string, args: string[]): RunningChild {
    const { tracked, lines, lineWaiters } = this.spawnTracked(name, command, args);
    const logFile = this.logFileOf(name);
    return {
      name,
      logFile,
      waitForOutput: (pattern, timeoutMs) =>
        new Promise<RegExpExecArray>((resolve, reject) => {
          const seen = lines.map((line) => pattern.exec(line)).find((match) => match !== null);
          if (seen) return resolve(seen);
          const finish = (error?: Error, match?: RegExpExecArray) => {
            clearTimeout(timer);
            lineWaiters.delete(check);
            if (error) reject(error);
            else resolve(match!);
          };
          const check = (line: string) => {
            const match = pattern.exec(line);
            if (match) finish(undefined, match);
          };
          const timer = setTimeout(
            () => finish(new ChildProcessError(`${name} did not print ${pattern} within ${timeoutMs / 1000} s`, logFile)),
            timeoutMs,
          );
          lineWaiters.add(check);
          void tracked.gone.then(() => {
            if (lineWaiters.has(check)) finish(new ChildProcessError(`${name} ended before printing ${pattern}`, logFile));
          });
        }),
      stop: () => this.stopOne(tracked),
      kill: () => this.stopOne(tracked, 'SIGKILL'),
    };
  }

  /**
   * Runs a `cardsys` subcommand to completion: stdout is returned (and logged), stderr is logged.
   * A non-zero exit is returned, not thrown: refusals are outcomes the demo reports.
   */
  async runCardsys(name: string, args: string[], timeoutMs = 60_000): Promise<CommandResult> {
    const { tracked } = this.spawnTracked(name, process.execPath, [CARDSYS_BIN, ...args]);
    // A one-shot command is expected to exit: that is no failure of the group.
    tracked.stopping = true;
    let stdout = '';
    tracked.proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      tracked.proc.kill('SIGKILL');
    }, timeoutMs);
    const code = await new Promise<number>((resolve) => tracked.proc.once('close', (exitCode) => resolve(exitCode ?? 1)));
    clearTimeout(timer);
    this.forget(tracked);
    if (timedOut) throw new ChildProcessError(`${name} did not finish within ${timeoutMs / 1000} s`, this.logFileOf(name));
    return { code, stdout };
  }

  private spawnTracked(name: string, command: string, args: string[]) {
    const log = createWriteStream(this.logFileOf(name), { flags: 'a' });
    log.write(`# ${new Date().toISOString()} ${command} ${args.join(' ')}\n`);
    // In a process group of its own: Ctrl-C reaches the demo alone, which stops children in order.
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const lines: string[] = [];
    const lineWaiters = new Set<(line: string) => void>();
    for (const output of [proc.stdout!, proc.stderr!]) {
      output.on('data', (chunk: Buffer) => log.write(chunk));
      createInterface({ input: output, crlfDelay: Infinity }).on('line', (line) => {
        if (lines.push(line) > MAX_KEPT_LINES) lines.shift();
        for (const waiter of lineWaiters) waiter(line);
      });
    }
    const tracked: Tracked = {
      name,
      proc,
      log,
      stopping: false,
      gone: new Promise<void>((resolve) => proc.once('close', () => resolve())),
    };
    proc.once('error', (error) => this.died(tracked, `${name} could not start: ${error.message}`));
    proc.once('exit', (code, signal) => {
      if (!tracked.stopping) this.died(tracked, `${name} exited unexpectedly (${signal ?? `code ${code}`})`);
    });
    this.children.push(tracked);
    return { tracked, lines, lineWaiters };
  }

  /** Calls the listener when a child the group did not stop dies. */
  onUnexpectedExit(listener: (error: ChildProcessError) => void): void {
    this.deathListeners.add(listener);
  }

  /** Stops every child, newest first (stores before head office before the broker). */
  async stopAll(): Promise<void> {
    for (const child of [...this.children].reverse()) await this.stopOne(child);
  }

  private async stopOne(child: Tracked, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    child.stopping = true;
    if (child.proc.exitCode === null && child.proc.signalCode === null) {
      child.proc.kill(signal);
      const killer = setTimeout(() => child.proc.kill('SIGKILL'), STOP_GRACE_MS);
      await child.gone;
      clearTimeout(killer);
    } else {
      await child.gone;
    }
    this.forget(child);
  }

  private forget(child: Tracked): void {
    child.log.end();
    const index = this.children.indexOf(child);
    if (index >= 0) this.children.splice(index, 1);
  }

  private died(child: Tracked, message: string): void {
    const error = new ChildProcessError(message, this.logFileOf(child.name));
    for (const listener of this.deathListeners) listener(error);
  }
}
