import { afterAll, beforeAll } from 'vitest';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import { ISSUER } from './card-fixture.js';
import { definePurseSuite } from './purse-suite.js';

let rig: PcscRig;
beforeAll(async () => {
  rig = await openPcscRig(ISSUER.transport);
});
afterAll(async () => {
  await rig?.close();
});

definePurseSuite('pcscd + vpcd (virtual card)', async () => {
  const card = await rig.newCard();
  return {
    transport: card.transport,
    pullDuring: (ins) => card.card.pullDuring(ins),
    reinsert: async () => {
      await card.remove();
      await card.insert();
    },
    state: card.state,
  };
});
