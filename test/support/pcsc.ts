import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newBlankCard, type CardState } from '../../card/index.js';
import { loadCardState, saveCardState, VirtualCard } from '../../card/virtual/index.js';
import { PcscReaders, type CardTransport, type PcscCard } from '../../edge/card-reader/index.js';
import { ensurePcscd, VPCD_SLOTS, type VpcdSlot } from '../../infra/pcsc/index.js';

/*
 * Card tests through the real pcscd + vpcd. pcscd is started once (idempotent, under a lock); each
 * test file leases its own vpcd reader slot through a lock file, so files running in parallel never
 * share a reader. A lease held by a dead process is taken over.
 */

const LEASE_DIR = join(tmpdir(), 'cardsys-vpcd-slots');

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface SlotLease {
  readonly slot: VpcdSlot;
  release(): void;
}

export async function leaseReaderSlot(timeoutMs = 120_000): Promise<SlotLease> {
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
        const holder = Number(readFileSync(file, { encoding: 'utf8', flag: 'r' }) || '0');
        if (holder && !processAlive(holder)) rmSync(file, { force: true });
      }
    }
    if (Date.now() > deadline) throw new Error(`no free vpcd reader slot after ${timeoutMs} ms (leases in ${LEASE_DIR})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A transport to whatever card is currently connected in the slot (re-connected after a re-insert). */
class SlotTransport implements CardTransport {
  current: PcscCard | undefined;
  transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (!this.current) throw new Error('no card connected in the test slot');
    return this.current.transmit(apdu);
  }
}

/** One virtual card in the leased slot, connected through pcscd. */
export interface SlotCard {
  readonly card: VirtualCard;
  readonly stateFile: string;
  readonly transport: CardTransport;
  /** Puts the card (back) in the reader and connects to it through pcscd. */
  insert(): Promise<void>;
  /** Pulls the card and waits until pcscd has seen it go. */
  remove(): Promise<void>;
  /** Ends this process's exclusive PC/SC connection (the card stays in), so another client can use it. */
  disconnect(): Promise<void>;
  /** Connects again to the card in the slot. */
  connect(): Promise<void>;
  state(): CardState;
}

export interface PcscRig {
  readonly slot: VpcdSlot;
  readonly readers: PcscReaders;
  readonly directory: string;
  /** A new card from the given state (blank by default), inserted and connected; the previous one is pulled. */
  newCard(state?: CardState): Promise<SlotCard>;
  close(): Promise<void>;
}

export async function openPcscRig(transportKey: Uint8Array): Promise<PcscRig> {
  await ensurePcscd();
  const lease = await leaseReaderSlot();
  const readers = PcscReaders.open();
  await readers.waitForReader(lease.slot.readerName, 10_000);
  const directory = mkdtempSync(join(tmpdir(), 'cardsys-card-'));
  let current: SlotCard | undefined;
  let count = 0;

  const rig: PcscRig = {
    slot: lease.slot,
    readers,
    directory,
    async newCard(state = newBlankCard(transportKey)) {
      await current?.remove();
      const stateFile = join(directory, `card-${++count}.json`);
      saveCardState(stateFile, state);
      const card = new VirtualCard({ stateFile, port: lease.slot.port });
      const transport = new SlotTransport();
      const slotCard: SlotCard = {
        card,
        stateFile,
        transport,
        async insert() {
          await card.insert();
          await readers.waitForCard(lease.slot.readerName, 10_000);
          await slotCard.connect();
        },
        async connect() {
          transport.current = await readers.connect(lease.slot.readerName);
        },
        async disconnect() {
          await transport.current?.disconnect();
          transport.current = undefined;
        },
        async remove() {
          await slotCard.disconnect();
          await card.remove();
          await readers.waitForRemoval(lease.slot.readerName, 10_000);
        },
        state: () => loadCardState(stateFile),
      };
      await slotCard.insert();
      current = slotCard;
      return slotCard;
    },
    async close() {
      await current?.remove();
      readers.close();
      lease.release();
      rmSync(directory, { recursive: true, force: true });
    },
  };
  return rig;
}
