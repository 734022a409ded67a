// Head office's API as the host process builds it (query routes, error shapes, docs) with the
// issuance route plugins, over a real SQLite event store and read-model file.
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { buildApi } from '../../host/api/index.js';
import type { EventStore } from '../../eventstore/index.js';
import { ProjectionRunner, projections } from '../../projections/index.js';

export interface HeadOfficeApi {
  app: FastifyInstance;
  runner: ProjectionRunner;
  /** Waits until the read models hold everything now in the event store. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

/** `routes` gets the projection runner, as head office's route plugins get its parts. */
export async function headOfficeApi(
  dir: string,
  store: EventStore,
  routes: (runner: ProjectionRunner) => FastifyPluginAsync[],
): Promise<HeadOfficeApi> {
  const runner = ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store, projections });
  runner.start();
  const app = await buildApi({ store, runner, plugins: routes(runner) });
  return {
    app,
    runner,
    async caughtUp() {
      const head = await store.headPosition();
      if (head !== undefined) await runner.waitForPosition(head);
    },
    async close() {
      await app.close();
      await runner.close();
    },
  };
}
