import type { Command } from 'commander';
import { openEventStore } from '../../host/index.js';
import { existsSync } from 'node:fs';
import { headOfficeProjections, ProjectionRunner, READ_MODELS_FILE } from '../../projections/index.js';
import { join } from 'node:path';
import { startProgress } from '../progress.js';
import { withDataOption, type DataCliOptions } from '../options.js';
import { answer, say } from '../output.js';
import { eventStoreChoice, hqDataDir, withEventStoreOptions, type EventStoreCliOptions } from './host-options.js';
import { issuerKeysFile, loadIssuerKeys } from '../../host/provisioning/index.js';

/** `cardsys projections rebuild`: drops head office's read models and replays every event into them. */
export function registerProjectionsCommands(program: Command): void {
  const group = program.command('projections').description("head office's read models (user DB, store sync status, …)");
  withEventStoreOptions(withDataOption(group.command('rebuild')))
    .description('drop every read model in <data>/hq/readmodels.db and replay the whole host event store into them (stop the host first)')
    .action(async (options: DataCliOptions & EventStoreCliOptions) => {
      const dataDir = hqDataDir(options.data);
      const store = await openEventStore(dataDir, eventStoreChoice(options));
      const keysFile = issuerKeysFile(dataDir);
      if (!existsSync(keysFile)) say(`no issuer keys at ${keysFile}: the purse ledger and the books are not rebuilt`);
      const projections = headOfficeProjections(existsSync(keysFile) ? loadIssuerKeys(keysFile) : undefined);
      let runner: ProjectionRunner;
      try {
        runner = ProjectionRunner.open({
          file: join(dataDir, READ_MODELS_FILE),
          store,
          projections,
          logger: { info: say, warn: say, error: say },
        });
      } catch (error) {
        await store.close();
        throw error;
      }
      try {
        const start = performance.now();
        const progress = startProgress({ unit: 'events', label: 'rebuild' });
        const { events } = await runner.rebuild(({ events: done, position, headPosition }) =>
          progress.update(done, headPosition > 0n ? Number(position) / Number(headPosition) : 1),
        );
        const seconds = (performance.now() - start) / 1000;
        // The summary ends the progress lines on stderr; --json answers with the same figures.
        progress.finish(
          `${events.toLocaleString('en-US')} events replayed into ${projections.map((p) => p.name).join(', ')} in ${seconds.toFixed(1)}s`,
        );
        answer({ events, projections: projections.map((p) => p.name), seconds: Number(seconds.toFixed(3)) });
      } finally {
        await runner.close();
        await store.close();
      }
    });
}
