// One process at a time per lock file: the lock names its holder's process id, and one left by a
// process that died is taken over.
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

/** Held by one process at a time; released on release() or when the holder's process is gone. */
export interface FileLock {
  release(): void;
}

/** Locks this process holds: a lock file naming our pid but not in here was left by an earlier process with the same pid. */
const held = new Set<string>();

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * Takes `file` as a lock holding this process id. A lock left by a process that no longer runs
 * (killed) is taken over; one held by a live process is refused with `who` in the message.
 */
export function acquireFileLock(file: string, who: string): FileLock {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(file);
      return {
        release: () => {
          held.delete(file);
          rmSync(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8'));
      if (held.has(file)) throw new Error(`${who} is already open in this process (lock ${file})`);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new Error(`${who} is in use by process ${holder} (lock ${file}); stop it first`);
      }
      rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${file}`);
}
