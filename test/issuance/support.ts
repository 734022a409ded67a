// Head office's API as the host process builds it (query routes, error shapes, docs, access control
// with head office's own tokens and evidence through its writer) with the issuance route plugins,
// over a real SQLite event store and read-model file.
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { buildApi, headOfficeAccess, ROLES, tokenFor, type Role } from '../../host/api/index.js';
import type { EventStore } from '../../eventstore/index.js';
import type { HqWriter } from '../../host/hq-writer/index.js';
import { ProjectionRunner, projections } from '../../projections/index.js';

export interface HeadOfficeApi {
  app: FastifyInstance;
  runner: ProjectionRunner;
  /** The Authorization header of a caller in this role (a token from head office's key in `dir`). */
  as(role: Role): { authorization: string };
  /** Waits until the read models hold everything now in the event store. */
  caughtUp(): Promise<void>;
  close(): Promise<void>;
}

/** `routes` gets the projection runner, as head office's route plugins get its parts. */
export async function headOfficeApi(options: {
  dir: string;
  store: EventStore;
  writer: HqWriter;
  routes: (runner: ProjectionRunner) => FastifyPluginAsync[];
}): Promise<HeadOfficeApi> {
  const { dir, store } = options;
  const runner = ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store, projections });
  runner.start();
  const app = await buildApi({ store, runner, plugins: options.routes(runner), access: headOfficeAccess(dir, options.writer) });
  const tokens = new Map<Role, string>();
  for (const role of ROLES) tokens.set(role, await tokenFor(dir, role));
  return {
    app,
    runner,
    as: (role) => ({ authorization: `Bearer ${tokens.get(role)!}` }),
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
