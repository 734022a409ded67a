// The card's figures: APDUs per operation, and the edge-side time of a pay through pcscd + vpcd
// to the virtual card, over the quickack card link (and, for comparison, over plain 127.0.0.1).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  authoriseCredit,
  bankId,
  buildCommandApdu,
  chipCommands as C,
  generateIssuerMasterKeys,
  newAuthorisationId,
  newBlankCard,
  newCardId,
  terminalKeysOf,
} from '../card/index.js';
import { saveCardState, VirtualCard, CARD_LINK_HOST } from '../card/virtual/index.js';
import { ChipTerminal, PcscReaders, type PcscCard } from '../reader/index.js';
import { ensurePcscd, leaseVpcdSlot } from '../infra/pcsc/index.js';
import { latency, type Latency } from './latency.js';

export interface CardBenchOptions {
  progress?: (message: string) => void;
  /** Pays timed over the quickack link. */
  pays?: number;
  /** Pays timed over plain 127.0.0.1 (delayed ACKs), for comparison. */
  slowPays?: number;
}

export interface CardFigures {
  apdusPerPay: number;
  apdusPerLoad: number;
  apdusPerSecondaryIssuance: number;
  apdusPerPrimaryIssuance: number;
  /** Edge side: validity checks + mutual authentication + DEBIT, through pcscd + vpcd, quickack link. */
  pay: Latency;
  /** One plain APDU round trip (GET DATA), quickack link. */
  apdu: Latency;
  /** The same pay with the card on 127.0.0.1 (no quickack route). */
  payWithoutQuickAck: Latency;
  quickAck: string;
}

export async function benchCard(options: CardBenchOptions = {}): Promise<CardFigures> {
  const progress = options.progress ?? (() => undefined);
  const pays = options.pays ?? 200;
  const slowPays = options.slowPays ?? 20;
  const status = await ensurePcscd();
  const lease = await leaseVpcdSlot();
  const readers = PcscReaders.open();
  const directory = mkdtempSync(join(tmpdir(), 'cardsys-bench-card-'));
  const issuer = generateIssuerMasterKeys(1);
  const storeKeys = terminalKeysOf(issuer);
  const stateFile = join(directory, 'card.json');
  saveCardState(stateFile, newBlankCard(issuer.transport));
  let card = new VirtualCard({ stateFile, port: lease.slot.port, host: CARD_LINK_HOST });
  let connection: PcscCard | undefined;
  const readerName = lease.slot.readerName;

  const plugIn = async (host: string) => {
    await connection?.disconnect();
    await card.remove();
    await readers.waitForRemoval(readerName, 10_000);
    card = new VirtualCard({ stateFile, port: lease.slot.port, host });
    await card.insert();
    await readers.waitForCard(readerName, 10_000);
    connection = await readers.connect(readerName);
    return connection;
  };

  try {
    await readers.waitForReader(readerName, 10_000);
    progress(`virtual card in "${readerName}"; ${status.quickAck}`);
    const link = await plugIn(CARD_LINK_HOST);

    const hq = new ChipTerminal(link, { keys: issuer, terminalName: 'hq' });
    const cardId = newCardId();
    await hq.initialise(issuer, { cardId, expiry: '2035-12', pin: '1234', bankId: bankId('0001', '234', '5678901') });
    const apdusPerPrimaryIssuance = hq.apduCount;

    const issuance = new ChipTerminal(link, { keys: storeKeys, terminalName: 'store-1/pos-1' });
    const verdict = await issuance.checkValidity();
    if (!verdict.usable) throw new Error(`freshly issued card is not usable: ${verdict.problems.join(', ')}`);
    await issuance.personalise(
      { name: '山田 太郎', address: '東京都千代田区丸の内1-1-1', birthDate: '1980-04-01', occupation: 'engineer', affiliation: 'cardsys' },
      bankId('0001', '234', '5678901'),
    );
    const apdusPerSecondaryIssuance = issuance.apduCount;

    const loader = new ChipTerminal(link, { keys: storeKeys, terminalName: 'store-1/load-1' });
    await loader.checkValidity();
    await loader.verifyPin('1234');
    const { counter } = await loader.readBalance();
    const amount = 1_000_000;
    const authorisationId = newAuthorisationId();
    await loader.credit({
      amount,
      authorisationId,
      authorisationMac: authoriseCredit(issuer, { cardId, cardCounter: counter, amount, authorisationId }),
    });
    const apdusPerLoad = loader.apduCount;

    const timePays = async (count: number): Promise<{ samples: number[]; apdus: number }> => {
      const samples: number[] = [];
      let apdus = 0;
      for (let i = 0; i < count; i++) {
        const pos = new ChipTerminal(connection!, { keys: storeKeys, terminalName: 'store-1/pos-1' });
        const started = performance.now();
        const check = await pos.checkValidity();
        if (!check.usable) throw new Error(`card became unusable: ${check.problems.join(', ')}`);
        await pos.debit({ amount: 1 });
        samples.push(performance.now() - started);
        apdus = pos.apduCount;
      }
      return { samples, apdus };
    };

    progress(`${pays} pays over the quickack link`);
    const fast = await timePays(pays);
    const getData = buildCommandApdu({ cla: 0x80, ins: C.INS.GET_DATA, p1: 0, p2: 1, le: 256 });
    const apduSamples: number[] = [];
    for (let i = 0; i < pays; i++) {
      const started = performance.now();
      await link.transmit(getData);
      apduSamples.push(performance.now() - started);
    }

    progress(`${slowPays} pays over 127.0.0.1 (no quickack)`);
    await plugIn('127.0.0.1');
    const slow = await timePays(slowPays);

    return {
      apdusPerPay: fast.apdus,
      apdusPerLoad,
      apdusPerSecondaryIssuance,
      apdusPerPrimaryIssuance,
      pay: latency(fast.samples),
      apdu: latency(apduSamples),
      payWithoutQuickAck: latency(slow.samples),
      quickAck: status.quickAck,
    };
  } finally {
    await connection?.disconnect().catch(() => undefined);
    await card.remove();
    readers.close();
    lease.release();
    rmSync(directory, { recursive: true, force: true });
  }
}
