// The demo's voice on stderr: numbered steps, their outcomes, and a failure that names the step
// and the log file to read.
import { say } from '../cli/output.js';
import { ChildProcessError } from './processes.js';

export class DemoStepError extends Error {
  override name = 'DemoStepError';
  constructor(
    readonly step: string,
    readonly reason: string,
    readonly logFile: string | undefined,
  ) {
    super(`step "${step}" failed: ${reason}${logFile ? `\n  read ${logFile}` : ''}`);
  }
}

/** A failure inside a step whose own log file says more. */
export class StepFailure extends Error {
  override name = 'StepFailure';
  constructor(
    message: string,
    readonly logFile?: string,
  ) {
    super(message);
  }
}

export class Narrator {
  private count = 0;
  /** Rejects as soon as a watched child dies, so that a step never waits for a dead process. */
  private abort: ((error: Error) => void) | undefined;
  /** A death noticed between steps fails the next one. */
  private pending: Error | undefined;

  constructor(private readonly total: number) {}

  /** Fails the step in progress (or the next one) with this error. */
  fail(error: Error): void {
    if (this.abort) this.abort(error);
    else this.pending ??= error;
  }

  /**
   * Runs one step: prints its title, then the lines it returns (its outcome), or turns any error
   * into a DemoStepError naming the step and the log to read (`logFile` unless the error names one).
   */
  async step(title: string, logFile: string | undefined, run: () => Promise<string | string[]>): Promise<void> {
    say(`\n[${++this.count}/${this.total}] ${title}`);
    const aborted = new Promise<never>((_, reject) => (this.abort = reject));
    if (this.pending) this.abort!(this.pending);
    try {
      const lines = await Promise.race([run(), aborted]);
      for (const line of Array.isArray(lines) ? lines : [lines]) say(`      ${line}`);
    } catch (error) {
      const failure = error as Error;
      const named = failure instanceof ChildProcessError || failure instanceof StepFailure ? failure.logFile : undefined;
      throw new DemoStepError(title, failure.message, named ?? logFile);
    } finally {
      this.abort = undefined;
    }
  }
}
