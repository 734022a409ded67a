// Purse figures: pays per second one store edge sustains with the card behind pcscd + vpcd (quickack
// on the card link), p50/p99 of one pay and one load as a POS terminal sees them over NATS (a load
// including head office's authorisation round trip), and their ratio to the bare APDU exchange of
// the same card operations by a terminal with no edge around it. Head office (ingest, projections,
// inquiry centre) runs in this same process and competes with the edge while replication is on, so
// pays are measured once more with replication paused: the edge alone, as when a store is offline.
import { authoriseCredit, newAuthorisationId, terminalKeysOf } from '../card/index.js';
import { ChipTerminal, type CardTransport } from '../reader/index.js';
import { terminalPinKey } from '../contracts/index.js';
import { DEFAULT_LOAD_LIMITS, MAX_PURSE_BALANCE } from '../domain/index.js';
import { sendPosCommand, type PosCommandInput } from '../edge/pos/index.js';
import { pcscdStatus } from '../infra/pcsc/index.js';
import { openPcscRig } from '../testkit/pcsc-rig.js';
import { issueCard, startPurseWorld } from '../testkit/purse-world.js';

export interface PurseBenchOptions {
  pays?: number;
  loads?: number;
  progress?: (message: string) => void;
}

const round = (value: number) => Math.round(value * 100) / 100;

function percentiles(samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { p50: round(at(0.5)), p99: round(at(0.99)) };
}

/** Counts the APDUs that go through a transport. */
function counting(transport: CardTransport): CardTransport & { count: number } {
  const counted = {
    count: 0,
    transmit(apdu: Uint8Array) {
      counted.count++;
      return transport.transmit(apdu);
    },
  };
  return counted;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

export async function benchPurse(context: { progress?: (message: string) => void } & PurseBenchOptions = {}): Promise<object> {
  const pays = context.pays ?? 300;
  const loads = context.loads ?? 100;
  const progress = context.progress ?? (() => undefined);
  // One card takes every load: the scheme's limits are lifted to the chip's own so they measure the path, not a decline.
  const world = await startPurseWorld(['bench'], {
    validForMs: 60_000,
    directLinks: true,
    loadLimits: { ...DEFAULT_LOAD_LIMITS, balanceCap: MAX_PURSE_BALANCE, dailyLoadLimit: MAX_PURSE_BALANCE },
  });
  const rig = await openPcscRig(world.master.transport);
  try {
    const store = await world.startStore('bench');
    const nc = (await store.edge.nats)!;
    const issued = await issueCard(world, { opening: 10_000_000 });
    const card = await rig.newCard(issued.card.state);
    const reader = counting(card.transport);
    store.readers.set('pos-1', reader);
    let n = 0;
    const posTerminal = { storeId: 'bench', terminalId: 'pos-1', pinKey: terminalPinKey(store.pinMasterKey, 'bench', 'pos-1') };
    const pos = (kind: Omit<PosCommandInput, 'commandId'>) =>
      sendPosCommand(nc, posTerminal, { ...kind, commandId: `bench-${++n}` }, { attempts: 1 }).then((reply) => {
        if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
      });

    progress(`${loads} loads through the edge (head office round trip included)`);
    const loadTimes: number[] = [];
    let apdusBefore = reader.count;
    for (let i = 0; i < loads; i++) loadTimes.push(await timed(() => pos({ load: { amount: 10_000, pin: '1234' } })));
    const apdusPerLoad = (reader.count - apdusBefore) / loads;
    await store.replicated();

    progress(`${pays} pays through the edge`);
    const payTimes: number[] = [];
    apdusBefore = reader.count;
    const paysStarted = performance.now();
    for (let i = 0; i < pays; i++) payTimes.push(await timed(() => pos({ pay: { amount: 100 } })));
    const paysPerSecond = pays / ((performance.now() - paysStarted) / 1000);
    const apdusPerPay = (reader.count - apdusBefore) / pays;

    progress('the same card operations as bare APDU exchanges');
    const terminal = () => new ChipTerminal(card.transport, { keys: terminalKeysOf(world.master), terminalName: 'pos-1' });
    const barePay: number[] = [];
    for (let i = 0; i < pays; i++) {
      barePay.push(
        await timed(async () => {
          const chip = terminal();
          await chip.checkValidity();
          await chip.debit({ amount: 100 });
        }),
      );
    }
    const bareLoad: number[] = [];
    for (let i = 0; i < loads; i++) {
      bareLoad.push(
        await timed(async () => {
          const chip = terminal();
          const verdict = await chip.checkValidity();
          await chip.verifyPin('1234');
          await chip.readBankId();
          const { counter } = await chip.readBalance();
          const authorisationId = newAuthorisationId();
          const mac = authoriseCredit(world.master, { cardId: verdict.info.cardId, cardCounter: counter, amount: 100, authorisationId });
          await chip.credit({ amount: 100, authorisationId, authorisationMac: mac });
        }),
      );
    }
    progress(`${pays} pays with replication paused: the edge alone, as when the store is cut off (head office shares this process)`);
    await store.edge.replicator.stop();
    const aloneTimes: number[] = [];
    const aloneStarted = performance.now();
    for (let i = 0; i < pays; i++) {
      aloneTimes.push(
        await timed(async () => {
          const reply = await store.command({ pay: { amount: 100 } });
          if (!reply.ok) throw new Error(`${reply.code}: ${reply.message}`);
        }),
      );
    }
    const alonePaysPerSecond = pays / ((performance.now() - aloneStarted) / 1000);

    const pay = percentiles(payTimes);
    const load = percentiles(loadTimes);
    const bare = { pay: percentiles(barePay), load: percentiles(bareLoad) };
    return {
      cardLink: pcscdStatus().quickAck,
      paysPerSecond: round(paysPerSecond),
      payMs: pay,
      loadMs: load,
      edgeAlone: { paysPerSecond: round(alonePaysPerSecond), payMs: percentiles(aloneTimes) },
      apdus: { perPay: round(apdusPerPay), perLoad: round(apdusPerLoad) },
      bareApduMs: bare,
      ratioToBareApdus: { payP50: round(pay.p50 / bare.pay.p50), loadP50: round(load.p50 / bare.load.p50) },
    };
  } finally {
    await rig.close();
    await world.close();
  }
}
