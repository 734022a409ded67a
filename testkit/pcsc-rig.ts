import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newBlankCard, type CardState } from '../card/index.js';
import { loadCardState, saveCardState, VirtualCard } from '../card/virtual/index.js';
import { PcscReaders, type CardTransport, type PcscCard } from '../reader/index.js';
import { ensurePcscd, leaseVpcdSlot, type VpcdSlot } from '../infra/pcsc/index.js';

/*
 * Card tests through the real pcscd + vpcd. pcscd is started once (idempotent, under a lock); each
 * test file leases its own vpcd reader slot (a lock file per slot), so files running in parallel
 * never share a reader.
 */

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
  const lease = await leaseVpcdSlot();
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
