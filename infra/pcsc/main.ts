import { ensurePcscd, pcscdStatus, restartPcscd, stopPcscd, type PcscdStatus } from './pcscd.js';

// bash infra/pcsc/pcscd.sh start|restart|stop|status

function report(status: PcscdStatus): void {
  process.stderr.write(`pcscd ${status.running ? 'running' : 'not running'}; ${status.quickAck}\n`);
  for (const slot of status.slots) process.stderr.write(`  slot ${slot.slot}: "${slot.readerName}" on vpcd port ${slot.port}\n`);
}

const action = process.argv[2] ?? 'start';
try {
  if (action === 'start') report(await ensurePcscd());
  else if (action === 'restart') report(await restartPcscd());
  else if (action === 'stop') await stopPcscd();
  else if (action === 'status') report(pcscdStatus());
  else throw new Error(`unknown action "${action}" (start, restart, stop, status)`);
} catch (error) {
  process.stderr.write(`pcscd: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
