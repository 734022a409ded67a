// The PIN never travels or rests in clear: a load with a known PIN, then a PIN unblock and a PIN
// change with known new PINs, go from the terminal over NATS to the store's real counter (edge,
// card, head office's authorisation), and every message the NATS server carried, edge.db (with its
// WAL) and the store's log are searched for each PIN in every form it could take (ASCII, UTF-16,
// packed BCD as in a format 0/4 PIN field): it is in none.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { pb, subjects, terminalPinKey } from '../../contracts/index.js';
import { edgeDbFile, edgeLogDir } from '../../edge/index.js';
import { sendPosCommand, type PosTerminal } from '../../edge/pos/index.js';
import { chipPurse, issueCard, startOneStoreWorld, type PurseWorld, type Store } from '../../testkit/purse-world.js';

const PIN = '73920516';
const WRONG_PIN = '73920517';
const UNBLOCKED_PIN = '58203147';
const CHANGED_PIN = '61094825';
const HOLDER = { name: 'Tanaka Ichiro', birthDate: '1985-11-23' };

/** The byte strings a PIN can be found as. */
function pinForms(pin: string): Buffer[] {
  return [Buffer.from(pin, 'ascii'), Buffer.from(pin, 'utf16le'), Buffer.from(pin, 'hex')];
}

const holdsPin = (bytes: Uint8Array, pin: string) => pinForms(pin).some((form) => Buffer.from(bytes).includes(form));

describe('the PIN never travels or rests in clear', () => {
  let world: PurseWorld;
  let store: Store;
  let sniffer: NatsConnection;
  let pos: NatsConnection;
  const carried: Msg[] = [];
  let terminal: PosTerminal;

  beforeAll(async () => {
    ({ world, store } = await startOneStoreWorld());
    // Everything the server carries, on the test's own server: POS commands, batches, requests to head office, replies.
    sniffer = await connect({ servers: world.backbone.nats.url });
    sniffer.subscribe('>', { callback: (_error, msg) => void carried.push(msg) });
    await sniffer.flush();
    pos = await connect({ servers: world.backbone.nats.url });
    terminal = { storeId: 's1', terminalId: 'pos-1', pinKey: terminalPinKey(store.pinMasterKey, 's1', 'pos-1') };
  });
  afterAll(async () => {
    await pos?.close();
    await sniffer?.close();
    await world?.close();
  });

  it('a load, a wrong PIN, a PIN unblock and a PIN change through the real counter: no PIN is in a NATS message, nor in edge.db, its WAL or the log', async () => {
    const { card, cardId } = await issueCard(world, { pin: PIN, opening: 50_000, holder: HOLDER });
    store.readers.set('pos-1', card);
    // The search finds a PIN where there is one: in a command that carried it in clear, as the field still allows.
    expect(holdsPin(pb.PosCommand.encode({ commandId: 'x', storeId: 's1', load: { amount: 1, pin: PIN } }).finish(), PIN)).toBe(true);

    const send = (commandId: string, pin: string) =>
      sendPosCommand(pos, terminal, { commandId, load: { amount: 3_000, pin } }, { attempts: 1, timeoutMs: 10_000 });
    expect(await send('load-pin-1', PIN)).toMatchObject({ ok: true, code: 'loaded', balance: 3_000, cardId });
    // A retry encrypts the PIN afresh (another PIN block): still the same command, answered with its first result.
    expect(await send('load-pin-1', PIN)).toMatchObject({ ok: true, code: 'loaded', balance: 3_000 });
    expect(await send('load-pin-2', WRONG_PIN)).toMatchObject({ ok: false, code: 'wrong_pin' });
    expect(await send('load-pin-3', PIN)).toMatchObject({ ok: true, code: 'loaded', balance: 6_000 });
    expect(chipPurse(card)).toEqual({ balance: 6_000, counter: 2 });
    const unblock = { commandId: 'unblock-1', unblockPin: { ...HOLDER, newPin: UNBLOCKED_PIN } };
    expect(await sendPosCommand(pos, terminal, unblock, { attempts: 1, timeoutMs: 10_000 })).toMatchObject({
      ok: true,
      code: 'pin_unblocked',
    });
    const change = { commandId: 'change-1', changePin: { pin: UNBLOCKED_PIN, newPin: CHANGED_PIN } };
    expect(await sendPosCommand(pos, terminal, change, { attempts: 1, timeoutMs: 10_000 })).toMatchObject({
      ok: true,
      code: 'pin_changed',
    });
    expect(card.state.issued?.pin).toBe(CHANGED_PIN);
    await store.replicated();
    await pos.flush();
    await sniffer.flush();

    const posCommands = carried.filter((msg) => msg.subject === subjects.pos('s1', 'pos-1'));
    expect(posCommands).toHaveLength(6);
    expect(carried.some((msg) => msg.subject === subjects.events('s1'))).toBe(true);
    expect(carried.some((msg) => msg.subject === subjects.inquiry('s1'))).toBe(true);
    for (const pin of [PIN, WRONG_PIN, UNBLOCKED_PIN, CHANGED_PIN]) {
      const leaks = carried.filter(
        (msg) =>
          holdsPin(msg.data, pin) || msg.subject.includes(pin) || (msg.headers && holdsPin(Buffer.from(msg.headers.toString()), pin)),
      );
      expect(
        leaks.map((msg) => msg.subject),
        pin,
      ).toEqual([]);
    }

    const dataDir = join(world.backbone.dir, 'stores', 's1');
    const files = [
      edgeDbFile(dataDir),
      `${edgeDbFile(dataDir)}-wal`,
      ...readdirSync(edgeLogDir(dataDir)).map((f) => join(edgeLogDir(dataDir), f)),
    ];
    const read = () => files.map((file) => ({ file, bytes: readFileSync(file) }));
    const atRest = read();
    expect(atRest.find(({ file }) => file.endsWith('-wal'))!.bytes.length).toBeGreaterThan(0);
    // edge.db does hold the commands: the search would find what is there.
    expect(atRest.some(({ bytes }) => bytes.includes(Buffer.from('load-pin-2')))).toBe(true);
    for (const pin of [PIN, WRONG_PIN, UNBLOCKED_PIN, CHANGED_PIN])
      expect(
        atRest.filter(({ bytes }) => holdsPin(bytes, pin)).map(({ file }) => file),
        pin,
      ).toEqual([]);
  });
});
