import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apduHex, buildCommandApdu, chipCommands as C } from '../../card/index.js';
import { CardStatusError, exchange, NoCardError, NoReaderError } from '../../reader/index.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { ISSUER, load, primaryIssue, storeTerminal } from './card-fixture.js';

const run = promisify(execFile);
let rig: PcscRig;

beforeAll(async () => {
  rig = await openPcscRig(ISSUER.transport);
});
afterAll(async () => {
  await rig?.close();
});

describe('the card reader port on pcscd + vpcd', () => {
  it('answers an independent PC/SC client: opensc-tool SELECT by AID returns 90 00', async () => {
    const card = await rig.newCard();
    await card.disconnect();
    const select = apduHex(buildCommandApdu({ cla: 0x00, ins: C.INS.SELECT, p1: 0x04, p2: 0x00, data: C.AID }));
    const { stdout } = await run('opensc-tool', ['-r', rig.slot.readerName, '-s', select]);
    expect(stdout).toMatch(/SW1=0x90, SW2=0x00/);
  });

  it('keeps the purse from an independent PC/SC client: opensc-tool gets 6982 for GET BALANCE and the usage log', async () => {
    const card = await rig.newCard();
    await primaryIssue(card.transport);
    await load(storeTerminal(card.transport), 1000);
    await card.disconnect();
    const select = apduHex(buildCommandApdu({ cla: 0x00, ins: C.INS.SELECT, p1: 0x04, p2: 0x00, data: C.AID }));
    const plain = (ins: number, p1: number, p2: number) => apduHex(buildCommandApdu({ cla: 0x80, ins, p1, p2, le: 256 }));
    const secured = (ins: number, p1: number) => apduHex(buildCommandApdu({ cla: 0x84, ins, p1, p2: 0, data: new Uint8Array(8), le: 256 }));
    const asked = [
      plain(C.INS.GET_BALANCE, 0, 0),
      plain(C.INS.READ_RECORD, 1, 0),
      secured(C.INS.GET_BALANCE, 0),
      secured(C.INS.READ_RECORD, 1),
      plain(C.INS.GET_DATA, 0, 1),
    ];
    const { stdout } = await run('opensc-tool', ['-r', rig.slot.readerName, '-s', select, ...asked.flatMap((apdu) => ['-s', apdu])]);
    const statuses = [...stdout.matchAll(/SW1=0x([0-9a-f]{2}), SW2=0x([0-9a-f]{2})/gi)].map((m) => `${m[1]}${m[2]}`.toLowerCase());
    // SELECT and the system information answer anyone; the balance and the usage log answer no one without a session.
    expect(statuses).toEqual(['9000', '6982', '6982', '6982', '6982', '9000']);
    expect(stdout).not.toMatch(/03 e8/i);
    await card.connect();
    const store = storeTerminal(card.transport);
    const verdict = await store.checkValidity();
    expect(verdict.balance).toEqual({ balance: 1000, counter: 1, tampered: false });
    expect((await store.readLog()).map((entry) => entry.amount)).toEqual([1000]);
  });

  it('follows 61xx and 6Cxx through pcscd', async () => {
    const card = await rig.newCard();
    await primaryIssue(card.transport);
    const noLe = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 1 });
    const shortLe = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 1, le: 2 });
    expect(Buffer.from(await card.transport.transmit(noLe)).toString('hex')).toBe('6118');
    expect(Buffer.from(await card.transport.transmit(shortLe)).toString('hex')).toBe('6c18');
    for (const apdu of [noLe, shortLe]) {
      const response = await exchange(card.transport, apdu);
      expect(response.sw).toBe(0x9000);
      expect(response.data.length).toBe(C.SYSTEM_INFO_LENGTH);
    }
  });

  it('reports insertion and removal, and refuses to connect to an empty slot', async () => {
    const card = await rig.newCard();
    const events: string[] = [];
    rig.readers.on('card-removed', (name) => name === rig.slot.readerName && events.push('removed'));
    rig.readers.on('card-inserted', (name) => name === rig.slot.readerName && events.push('inserted'));
    await card.remove();
    expect(rig.readers.isCardPresent(rig.slot.readerName)).toBe(false);
    await expect(rig.readers.connect(rig.slot.readerName)).rejects.toBeInstanceOf(NoCardError);
    await expect(rig.readers.waitForCard(rig.slot.readerName, 300)).rejects.toThrow(/no card in reader/);
    await card.insert();
    expect(events).toEqual(['removed', 'inserted']);
    await storeTerminal(card.transport).select();
  });

  it('names the readers it knows when asked for one that does not exist', async () => {
    await expect(rig.readers.connect('No Such Reader 00 00')).rejects.toThrow(NoReaderError);
    await expect(rig.readers.waitForReader('No Such Reader 00 00', 200)).rejects.toThrow(/readers: .*Virtual PCD/);
  });

  it('detects a balance edited by hand in the card state file', async () => {
    const card = await rig.newCard();
    await primaryIssue(card.transport);
    await load(storeTerminal(card.transport), 1000);
    await card.remove();
    const json = JSON.parse(readFileSync(card.stateFile, 'utf8'));
    json.issued.balance = 100_000;
    writeFileSync(card.stateFile, JSON.stringify(json));
    await card.insert();

    const store = storeTerminal(card.transport);
    const verdict = await store.checkValidity();
    expect(verdict.usable).toBe(false);
    expect(verdict.problems).toContain('balance record fails its data MAC (tampered)');
    expect(verdict.balance).toEqual({ balance: 100_000, counter: 1, tampered: true });
    // The chip itself refuses to spend from a purse that fails its own integrity check.
    await store.authenticate();
    const error = await store.debit({ amount: 500 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(CardStatusError);
    expect((error as CardStatusError).sw).toBe(0x6581);
  });
});

describe('without pcscd', () => {
  it('says that pcscd cannot be reached (NoReaderError)', async () => {
    // libpcsclite reads the daemon's socket path once per process: probe from a fresh one.
    const probe =
      "import('./reader/index.ts').then(({ PcscReaders }) => { try { PcscReaders.open(); console.log('opened'); process.exit(0); } catch (error) { console.log(error.name + ': ' + error.message); } })";
    const { stdout } = await run('npx', ['tsx', '--eval', probe], {
      env: { ...process.env, PCSCLITE_CSOCK_NAME: '/nonexistent/pcscd.comm' },
    });
    expect(stdout).toMatch(/^NoReaderError: cannot reach pcscd: .*Service not available/);
  });
});
