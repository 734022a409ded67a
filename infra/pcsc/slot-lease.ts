import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VPCD_SLOTS, type VpcdSlot } from './pcscd.js';

/*
 * Processes on one machine (parallel test files, a benchmark) each lease their own vpcd reader slot
 * through a lock file holding their pid, so no two of them put cards into the same reader. A lease
 * whose process died is taken over.
 */

const LEASE_DIR = join(tmpdir(), 'cardsys-vpcd-slots');

export interface SlotLease {
  readonly slot: VpcdSlot;
  release(): void;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function leaseVpcdSlot(timeoutMs = 120_000): Promise<SlotLease> {
  mkdirSync(LEASE_DIR, { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const slot of VPCD_SLOTS) {
      const file = join(LEASE_DIR, `slot-${slot.slot}`);
      try {
        closeSync(openSync(file, 'wx'));
        writeFileSync(file, String(process.pid));
        return { slot, release: () => rmSync(file, { force: true }) };
      } catch {
        let holder = 0;
        try {
          holder = Number(readFileSync(file, 'utf8'));
        } catch {
          continue;
        }
        // An empty file is a lease being written right now; a dead holder's lease is stale.
        if (holder && !processAlive(holder)) rmSync(file, { force: true });
      }
    }
    if (Date.now() > deadline) throw new Error(`no free vpcd reader slot after ${timeoutMs} ms (leases in ${LEASE_DIR})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
