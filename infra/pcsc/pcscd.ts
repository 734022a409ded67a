import { execFileSync, spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/*
 * pcscd with vsmartcard's vpcd driver: reader slots a virtual card connects to over TCP.
 * The Debian package configures one vpcd reader ("Virtual PCD", port 0x8C7B, two slots); we add
 * three more so tests can move a card between head office and two stores. Every vpcd reader entry
 * gives two slots, listening on its port and the next one. The driver keeps its slots in static
 * variables indexed by slot number only, so two entries sharing one loaded driver would overwrite
 * each other: each extra entry loads its own copy of the driver file.
 */

export interface VpcdSlot {
  /** 0-based slot number, as `cardsys vcard --reader <slot>` takes it. */
  readonly slot: number;
  /** The TCP port vpcd listens on for a virtual card in this slot. */
  readonly port: number;
  /** The PC/SC reader name pcscd gives the slot. */
  readonly readerName: string;
}

const DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
const DRIVER_COPIES = '/usr/local/lib/cardsys-pcsc';
const CONF_DIR = '/etc/reader.conf.d';
const BASE_PORT = 0x8c7b;
/** Reader entries: Debian's own, then ours. */
const READERS = [
  { friendlyName: 'Virtual PCD', port: BASE_PORT, file: 'vpcd', library: DRIVER },
  { friendlyName: 'Virtual PCD B', port: BASE_PORT + 2, file: 'cardsys-vpcd', library: join(DRIVER_COPIES, 'libifdvpcd-b.so') },
  { friendlyName: 'Virtual PCD C', port: BASE_PORT + 4, file: 'cardsys-vpcd', library: join(DRIVER_COPIES, 'libifdvpcd-c.so') },
  { friendlyName: 'Virtual PCD D', port: BASE_PORT + 6, file: 'cardsys-vpcd', library: join(DRIVER_COPIES, 'libifdvpcd-d.so') },
] as const;

export const VPCD_SLOTS: readonly VpcdSlot[] = READERS.flatMap((reader, index) =>
  [0, 1].map((sub) => ({ slot: index * 2 + sub, port: reader.port + sub, readerName: `${reader.friendlyName} 00 0${sub}` })),
);

export function vpcdSlot(slot: number): VpcdSlot {
  const found = VPCD_SLOTS[slot];
  if (!Number.isInteger(slot) || !found) throw new Error(`reader slot must be 0-${VPCD_SLOTS.length - 1}, got ${slot}`);
  return found;
}

/** The dedicated loopback address of the card link and its route with TCP quick ACKs (no delayed ACK). */
const CARD_LINK_ADDRESS = '127.0.0.2';
const LOG_FILE = join(tmpdir(), 'cardsys-pcscd.log');
const LOCK_DIR = join(tmpdir(), 'cardsys-pcscd.lock');
const PCSCD_SOCKET = '/run/pcscd/pcscd.comm';

function readerConf(file: string): string {
  return READERS.filter((reader) => reader.file === file)
    .map((reader) =>
      [
        `FRIENDLYNAME "${reader.friendlyName}"`,
        `DEVICENAME   /dev/null:0x${reader.port.toString(16).toUpperCase()}`,
        `LIBPATH      ${reader.library}`,
        `CHANNELID    0x${reader.port.toString(16).toUpperCase()}`,
      ].join('\n'),
    )
    .join('\n\n')
    .concat('\n');
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Writes the reader configuration; true when something changed. */
function configureReaders(): boolean {
  if (!existsSync(DRIVER))
    throw new Error(`vpcd driver ${DRIVER} is missing: install the Debian package vsmartcard-vpcd (make system-deps)`);
  let changed = false;
  const original = readFileSync(DRIVER);
  for (const { library } of READERS) {
    if (library === DRIVER || (existsSync(library) && readFileSync(library).equals(original))) continue;
    if (!isRoot()) throw new Error(`${library} needs writing and this is not root: run "sudo bash infra/pcsc/pcscd.sh start"`);
    mkdirSync(DRIVER_COPIES, { recursive: true });
    copyFileSync(DRIVER, library);
    changed = true;
  }
  for (const file of ['vpcd', 'cardsys-vpcd']) {
    const path = join(CONF_DIR, file);
    const wanted = readerConf(file);
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    // Debian's own file may carry comments: keep it when it already defines the base reader.
    if (file === 'vpcd' && current.includes('0x8C7B') && current.includes('libifdvpcd')) continue;
    if (current === wanted) continue;
    if (!isRoot()) throw new Error(`${path} needs updating and this is not root: run "sudo bash infra/pcsc/pcscd.sh start"`);
    mkdirSync(CONF_DIR, { recursive: true });
    writeFileSync(path, wanted);
    changed = true;
  }
  return changed;
}

/** Route to the card link address with quickack 1; false (with the reason) when it cannot be set. */
function ensureQuickAckRoute(): { ok: boolean; detail: string } {
  const show = () => execFileSync('ip', ['route', 'show', 'table', 'local', `${CARD_LINK_ADDRESS}/32`], { encoding: 'utf8' });
  try {
    if (/quickack 1/.test(show())) return { ok: true, detail: 'quickack route present' };
    execFileSync('ip', ['route', 'replace', 'local', `${CARD_LINK_ADDRESS}/32`, 'dev', 'lo', 'table', 'local', 'quickack', '1'], {
      stdio: 'pipe',
    });
    return { ok: /quickack 1/.test(show()), detail: 'quickack route added' };
  } catch (error) {
    return {
      ok: false,
      detail: `cannot set the quickack route (${(error as Error).message.split('\n')[0]}); APDUs will pay TCP delayed ACKs`,
    };
  }
}

function pcscdPids(): number[] {
  try {
    return execFileSync('pgrep', ['-x', 'pcscd'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** TCP ports in LISTEN state (from /proc/net/tcp), so checking never connects to vpcd (which would insert a card). */
function listeningPorts(): Set<number> {
  const ports = new Set<number>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[3] === '0A' && fields[1]) ports.add(Number.parseInt(fields[1].split(':')[1]!, 16));
  }
  return ports;
}

function ready(): boolean {
  const listening = listeningPorts();
  return pcscdPids().length > 0 && existsSync(PCSCD_SOCKET) && VPCD_SLOTS.every((slot) => listening.has(slot.port));
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} (see ${LOG_FILE})`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function stopPcscd(): Promise<void> {
  for (const pid of pcscdPids()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  await waitUntil(() => pcscdPids().length === 0, 10_000, 'pcscd did not stop');
}

async function startPcscd(): Promise<void> {
  const log = openSync(LOG_FILE, 'a');
  // Foreground mode under our own detached child: restartable, its output in one log file.
  const child = spawn('pcscd', ['--foreground'], { detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  child.unref();
  await waitUntil(ready, 10_000, 'pcscd did not come up with all vpcd slots listening');
}

async function withLock<T>(action: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      break;
    } catch {
      // A lock older than a minute belongs to a process that died mid-setup.
      if (Date.now() - statSync(LOCK_DIR, { throwIfNoEntry: false })!.mtimeMs > 60_000) rmSync(LOCK_DIR, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`pcscd set-up lock ${LOCK_DIR} is held too long`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return await action();
  } finally {
    rmSync(LOCK_DIR, { recursive: true, force: true });
  }
}

export interface PcscdStatus {
  readonly running: boolean;
  readonly quickAck: string;
  readonly slots: readonly VpcdSlot[];
}

/** Idempotent: configures vpcd's readers and the quickack route, starts pcscd unless it already runs as configured. */
export function ensurePcscd(): Promise<PcscdStatus> {
  return withLock(async () => {
    const changed = configureReaders();
    const route = ensureQuickAckRoute();
    if (changed || !ready()) {
      if (!isRoot())
        throw new Error('pcscd is not running with the vpcd readers and this is not root: run "sudo bash infra/pcsc/pcscd.sh start"');
      if (pcscdPids().length > 0) await stopPcscd();
      await startPcscd();
    }
    return { running: true, quickAck: route.detail, slots: VPCD_SLOTS };
  });
}

export function restartPcscd(): Promise<PcscdStatus> {
  return withLock(async () => {
    configureReaders();
    const route = ensureQuickAckRoute();
    await stopPcscd();
    await startPcscd();
    return { running: true, quickAck: route.detail, slots: VPCD_SLOTS };
  });
}

export function pcscdStatus(): PcscdStatus {
  return { running: ready(), quickAck: ensureQuickAckRoute().detail, slots: VPCD_SLOTS };
}
