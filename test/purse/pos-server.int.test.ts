import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pb, subjects } from '../../contracts/index.js';
import { startNatsServer, type NatsServer } from '../../infra/nats/index.js';
import { PosServer, decodePosReply, sendPosCommand } from '../../edge/pos/index.js';

const quiet = { info() {}, warn() {}, error() {} };

describe('POS command handler over NATS', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cardsys-pos-'));
    server = await startNatsServer({ dataDir: join(dir, 'nats') });
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc.close();
    await server.stop();
  });

  function edge(storeId: string, file = join(dir, `${storeId}.db`)) {
    const db = new Database(file);
    const pos = new PosServer({ storeId, db, logger: quiet });
    return { db, pos };
  }

  it('runs a command sent three times once, and answers every retry with the first result', async () => {
    const { pos } = edge('s1');
    let debits = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    pos.register('pay', async () => {
      debits += 1;
      await gate;
      return { ok: true, code: 'paid', message: 'paid', balance: 7_500 };
    });
    pos.listen(nc);
    await nc.flush();
    const terminal = { storeId: 's1', terminalId: 'pos-1' };
    const command = { commandId: 'cmd-1', pay: { amount: 5_500 } };
    // Two retries arrive while the first is still running, one after it finished.
    const first = sendPosCommand(nc, terminal, command, { attempts: 1 });
    const second = sendPosCommand(nc, terminal, command, { attempts: 1 });
    await new Promise((r) => setTimeout(r, 100));
    release();
    const replies = [await first, await second, await sendPosCommand(nc, terminal, command, { attempts: 1 })];
    expect(debits).toBe(1);
    for (const reply of replies) expect(reply).toMatchObject({ commandId: 'cmd-1', ok: true, code: 'paid', balance: 7_500 });
    await pos.stop();
  });

  it('refuses a command id reused for another command, a command for another store, and malformed bytes', async () => {
    const { pos } = edge('s2');
    pos.register('pay', async () => ({ ok: true, code: 'paid', message: 'paid' }));
    pos.register('load', async () => ({ ok: true, code: 'loaded', message: 'loaded' }));
    const encode = (c: object) => pb.PosCommand.encode(c).finish();
    const handle = async (c: object, terminalId = 't') => decodePosReply(await pos.handle(encode(c), terminalId));
    await handle({ commandId: 'c', storeId: 's2', pay: { amount: 1 } });
    expect(await handle({ commandId: 'c', storeId: 's2', pay: { amount: 2 } })).toMatchObject({ ok: false, code: 'command_id_reused' });
    // The same command from another terminal is another command.
    expect(await handle({ commandId: 'c', storeId: 's2', pay: { amount: 1 } }, 'u')).toMatchObject({
      ok: false,
      code: 'command_id_reused',
    });
    const elsewhere = await handle({ commandId: 'd', storeId: 's9', pay: { amount: 1 } });
    expect(elsewhere).toMatchObject({ ok: false, code: 'bad_request' });
    expect(elsewhere.message).toContain('s9');
    expect(await handle({ commandId: 'e', storeId: 's2' })).toMatchObject({ ok: false, code: 'bad_request' });
    const garbage = decodePosReply(await pos.handle(Uint8Array.of(0xff, 0xff, 0xff), 't'));
    expect(garbage).toMatchObject({ ok: false, code: 'bad_request' });
    expect(garbage.message).toMatch(/malformed PosCommand/);
    expect(await handle({ commandId: 'f', storeId: 's2', issue: {} })).toMatchObject({ ok: false, code: 'unsupported' });
    // A PIN in clear is refused before anything runs, and leaves no record: the id is still free.
    const clear = await handle({ commandId: 'g', storeId: 's2', load: { amount: 1, pin: '1234' } });
    expect(clear).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: 'a PIN in clear is refused: the terminal sends it as a PIN block',
    });
    expect(await handle({ commandId: 'g', storeId: 's2', load: { amount: 1, pinBlock: new Uint8Array(16) } })).toMatchObject({
      ok: true,
      code: 'loaded',
    });
  });

  it('never runs again a command cut short by a stop of the node, and keeps finished results across restarts', async () => {
    const file = join(dir, 's3.db');
    const first = edge('s3', file);
    first.pos.register('pay', async (request) => {
      if (request.commandId === 'cut') return new Promise(() => {}); // the node dies during this one
      return { ok: true, code: 'paid', message: 'paid', balance: 42 };
    });
    const encode = (id: string) => pb.PosCommand.encode({ commandId: id, storeId: 's3', pay: { amount: 1 } }).finish();
    await first.pos.handle(encode('done'), 't');
    void first.pos.handle(encode('cut'), 't');
    first.db.close();

    const second = edge('s3', file);
    let runs = 0;
    second.pos.register('pay', async () => {
      runs += 1;
      return { ok: true, code: 'paid', message: 'paid' };
    });
    expect(decodePosReply(await second.pos.handle(encode('cut'), 't'))).toMatchObject({ ok: false, code: 'interrupted' });
    expect(decodePosReply(await second.pos.handle(encode('done'), 't'))).toMatchObject({ ok: true, balance: 42 });
    expect(runs).toBe(0);
  });

  it('a terminal gets a clear error when no edge answers', async () => {
    await expect(
      sendPosCommand(nc, { storeId: 'nobody', terminalId: 't' }, { commandId: 'x', read: {} }, { attempts: 2, timeoutMs: 200 }),
    ).rejects.toThrow(/no answer from store nobody to terminal t after 2 attempt/);
    expect(subjects.pos('nobody', 't')).toBe('cardsys.pos.nobody.t');
  });
});
