// What every cardsys command prints. The command's answer goes to stdout: with --json one JSON
// object and nothing else (failures too: {"ok":false,"error":…}), otherwise the human lines.
// Diagnostics (progress, where files are, what a long-running process is doing) go to stderr, so a
// script can read stdout whatever a command logs.
import { CommanderError } from 'commander';

const state = { json: false, answered: false };

/** Whether the command line asks for --json (before any "--"). */
function jsonRequested(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).includes('--json');
}

/** Called once, before the command runs. */
export function startOutput(args: readonly string[]): void {
  state.json = jsonRequested(args);
}

/** A diagnostic for the person at the terminal: always stderr. */
export function say(message: string): void {
  process.stderr.write(`${message}\n`);
}

/**
 * The command's answer: `result` (with `ok: true` unless it says otherwise) as the one JSON object
 * on stdout under --json, else `human` on stdout. `exitCode` marks a refusal (the answer is still
 * printed). A second answer is a bug in the command.
 */
export function answer(result: object, human?: string | readonly string[], exitCode = 0): void {
  if (state.answered) throw new Error('the command answered twice');
  state.answered = true;
  if (exitCode !== 0) process.exitCode = exitCode;
  if (state.json) {
    process.stdout.write(`${JSON.stringify({ ok: exitCode === 0, ...result })}\n`);
    return;
  }
  const lines = typeof human === 'string' ? [human] : (human ?? []);
  for (const line of lines) process.stdout.write(`${line}\n`);
}

/**
 * A command failed: the reason on stderr and, under --json, as the one JSON object on stdout
 * (unless the command had already answered). Exit code 1, or commander's for usage errors.
 */
export function failed(error: unknown): void {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
    // Help and version are answers commander printed itself; usage errors it printed on stderr.
    if (error.exitCode === 0 || error.code === 'commander.help' || error.code === 'commander.helpDisplayed') return;
  } else {
    process.exitCode = 1;
    say(`cardsys: ${messageOf(error)}`);
  }
  if (state.json && !state.answered) {
    state.answered = true;
    process.stdout.write(`${JSON.stringify({ ok: false, error: messageOf(error).replace(/^error: /, '') })}\n`);
  }
}

/** At exit: a command that ran under --json without answering still prints its one object. */
export function finishOutput(): void {
  if (!state.json || state.answered) return;
  state.answered = true;
  const code = typeof process.exitCode === 'number' ? process.exitCode : Number(process.exitCode ?? 0);
  process.stdout.write(`${JSON.stringify(code === 0 ? { ok: true } : { ok: false, error: `exit code ${code}` })}\n`);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
