// Stores provisioned while head office runs: `cardsys host provision-store` adds a record to
// head office's directory, and the running head office notices it (a file-system watch, and a look
// every few seconds in case a watch event is lost) and hands the new records on, each once.
import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import type { Logger } from '../../infra/index.js';
import { headOfficeFiles } from './layout.js';
import { provisionedStores, type StoreRecord } from './provision.js';

const LOOK_EVERY_MS = 5_000;
/** Provisioning writes a few files in a row: one look after they settle. */
const SETTLE_MS = 100;

export interface StoreWatch {
  stop(): Promise<void>;
}

/**
 * Calls `onNew` with every provisioned store's record (at once, awaited), then with each store
 * provisioned later. A record `onNew` fails on is handed on again at the next look.
 */
export async function watchProvisionedStores(
  hqDataDir: string,
  onNew: (records: StoreRecord[]) => Promise<void>,
  logger: Logger,
): Promise<StoreWatch> {
  const directory = headOfficeFiles(hqDataDir).directory;
  mkdirSync(directory, { recursive: true });
  const known = new Set<string>();
  let stopped = false;
  let looking: Promise<void> = Promise.resolve();
  const look = () => {
    looking = looking.then(async () => {
      if (stopped) return;
      const records = provisionedStores(hqDataDir, known);
      if (records.length === 0) return;
      await onNew(records);
      for (const record of records) known.add(record.storeId);
    });
    looking = looking.catch((error: Error) => logger.error(`provisioned stores: ${error.message}; looking again in a few seconds`));
    return looking;
  };
  await look();
  let settle: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(directory, () => {
      clearTimeout(settle);
      settle = setTimeout(() => void look(), SETTLE_MS);
    });
    watcher.on('error', (error) =>
      logger.warn(`provisioned stores: watching ${directory} failed (${error.message}); looking every few seconds`),
    );
  } catch (error) {
    logger.warn(`provisioned stores: cannot watch ${directory} (${(error as Error).message}); looking every few seconds`);
  }
  const timer = setInterval(() => void look(), LOOK_EVERY_MS);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearTimeout(settle);
      watcher?.close();
      await looking;
    },
  };
}
