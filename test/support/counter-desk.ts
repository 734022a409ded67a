// Head office's side of an e2e test at the real counter: the pcscd + vpcd rig the cards sit in, the
// PIN key file of terminal pos-1 for `cardsys pos`, and head office's API listening on HTTP with the
// purse routes and any others the test needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { savePinKey, terminalPinKey } from '../../contracts/index.js';
import { buildApi, headOfficeAccess, tokenFor, type Role } from '../../host/api/index.js';
import { purseRoutes } from '../../host/purse/index.js';
import { openPcscRig, type PcscRig } from '../../testkit/pcsc-rig.js';
import type { PurseWorld, Store } from '../../testkit/purse-world.js';

export interface CounterDesk {
  rig: PcscRig;
  api: FastifyInstance;
  /** The PIN key of the store's terminal pos-1. */
  pinKeyFile: string;
  /** A request over HTTP to head office's API as a user of this role. */
  request(role: Role, request: { method: 'GET' | 'POST'; url: string; payload?: object }): Promise<{ statusCode: number; json(): any }>;
  close(): Promise<void>;
}

export async function openCounterDesk(
  world: PurseWorld,
  store: Store,
  options: { name: string; plugins?: (rig: PcscRig) => FastifyPluginAsync[] },
): Promise<CounterDesk> {
  const rig = await openPcscRig(world.master.transport);
  const dir = mkdtempSync(join(tmpdir(), `cardsys-${options.name}-`));
  const pinKeyFile = join(dir, 'pin-key');
  savePinKey(terminalPinKey(store.pinMasterKey, store.storeId, 'pos-1'), pinKeyFile);
  const api = await buildApi({
    store: world.backbone.store,
    runner: world.runner,
    plugins: [purseRoutes({ centre: () => world.centre, ledger: world.ledger }), ...(options.plugins?.(rig) ?? [])],
    access: headOfficeAccess(join(dir, 'hq'), world.backbone.hq),
  });
  await api.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  return {
    rig,
    api,
    pinKeyFile,
    request: async (role, { method, url, payload }) => {
      const headers: Record<string, string> = { authorization: `Bearer ${await tokenFor(join(dir, 'hq'), role)}` };
      if (payload) headers['content-type'] = 'application/json';
      const response = await fetch(`${base}${url}`, { method, headers, ...(payload ? { body: JSON.stringify(payload) } : {}) });
      const body = await response.text();
      return { statusCode: response.status, json: () => JSON.parse(body) };
    },
    close: async () => {
      await api.close();
      await rig.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
