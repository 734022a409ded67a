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
    const command = { commandId: 'cmd-1', storeId: 's1', terminalId: 'pos-1', pay: { amount: 5_500 } };
    // Two retries arrive while the first is still running, one after it finished.
    const first = sendPosCommand(nc, command, { attempts: 1 });
    const second = sendPosCommand(nc, command, { attempts: 1 });
    await new Promise((r) => setTimeout(r, 100));
    release();
    const replies = [await first, await second, await sendPosCommand(nc, command, { attempts: 1 })];
    expect(debits).toBe(1);
    for (const reply of replies) expect(reply).toMatchObject({ commandId: 'cmd-1', ok: true, code: 'paid', balance: 7_500 });
    await pos.stop();
  });

  it('refuses a command id reused for another command, a command for another store, and malformed bytes', async () => {
    const { pos } = edge('s2');
    pos.register('pay', async () => ({ ok: true, code: 'paid', message: 'paid' }));
    const encode = (c: object) => pb.PosCommand.encode(c).finish();
    await pos.handle(encode({ commandId: 'c', storeId: 's2', terminalId: 't', pay: { amount: 1 } }));
    const reused = decodePosReply(await pos.handle(encode({ commandId: 'c', storeId: 's2', terminalId: 't', pay: { amount: 2 } })));
    expect(reused).toMatchObject({ ok: false, code: 'command_id_reused' });
    const elsewhere = decodePosReply(await pos.handle(encode({ commandId: 'd', storeId: 's9', terminalId: 't', pay: { amount: 1 } })));
    expect(elsewhere).toMatchObject({ ok: false, code: 'bad_request' });
    expect(elsewhere.message).toContain('s9');
    const noKind = decodePosReply(await pos.handle(encode({ commandId: 'e', storeId: 's2', terminalId: 't' })));
    expect(noKind).toMatchObject({ ok: false, code: 'bad_request' });
    const garbage = decodePosReply(await pos.handle(Uint8Array.of(0xff, 0xff, 0xff)));
    expect(garbage).toMatchObject({ ok: false, code: 'bad_request' });
    expect(garbage.message).toMatch(/malformed PosCommand/);
    const unsupported = decodePosReply(await pos.handle(encode({ commandId: 'f', storeId: 's2', terminalId: 't', issue: {} })));
    expect(unsupported).toMatchObject({ ok: false, code: 'unsupported' });
  });

  it('never runs again a command cut short by a stop of the node, and keeps finished results across restarts', async () => {
    const file = join(dir, 's3.db');
    const first = edge('s3', file);
    first.pos.register('pay', async (request) => {
      if (request.commandId === 'cut') return new Promise(() => {}); // the node dies during this one
      return { ok: true, code: 'paid', message: 'paid', balance: 42 };
    });
    const encode = (id: string) => pb.PosCommand.encode({ commandId: id, storeId: 's3', terminalId: 't', pay: { amount: 1 } }).finish();
    await first.pos.handle(encode('done'));
    void first.pos.handle(encode('cut'));
    first.db.close();

    const second = edge('s3', file);
    let runs = 0;
    second.pos.register('pay', async () => {
      runs += 1;
      return { ok: true, code: 'paid', message: 'paid' };
    });
    expect(decodePosReply(await second.pos.handle(encode('cut')))).toMatchObject({ ok: false, code: 'interrupted' });
    expect(decodePosReply(await second.pos.handle(encode('done')))).toMatchObject({ ok: true, balance: 42 });
    expect(runs).toBe(0);
  });

  it('a terminal gets a clear error when no edge answers', async () => {
    await expect(
      sendPosCommand(nc, { commandId: 'x', storeId: 'nobody', terminalId: 't', read: {} }, { attempts: 2, timeoutMs: 200 }),
    ).rejects.toThrow(/no answer from store nobody after 2 attempt/);
    expect(subjects.pos('nobody')).toBe('cardsys.pos.nobody');
  });
});
