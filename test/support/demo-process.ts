// A `cardsys demo` a test started, and what it leaves behind. Each of the demo's children runs in a
// process group of its own, so a demo ended by SIGKILL (a test that failed half way) leaves them
// running, holding the vpcd readers and ports that other tests lease next: a test ends a demo with
// SIGTERM, which stops them, and kills what is still left.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Longer than the demo's own grace for each child it stops. */
const STOP_GRACE_MS = 30_000;

/** Processes whose command line names the folder: the demo's children all do (data, logs, configs). */
export function processesUsing(folder: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (command.includes(folder)) found.push(`${pid}: ${command}`);
    } catch {
      // Gone while listing.
    }
  }
  return found;
}

/** Ends a demo still running (SIGTERM, SIGKILL after a grace), then every process left naming `folder`. */
export async function endDemo(child: ChildProcess, folder: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await gone;
    clearTimeout(killer);
  }
  for (const line of processesUsing(folder)) {
    try {
      process.kill(Number(line.split(':')[0]), 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
