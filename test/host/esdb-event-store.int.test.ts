import { describe, it } from 'vitest';
import { EsdbEventStore } from '../../eventstore/index.js';
import { eventStoreContract } from './event-store.contract.js';

// EventStoreDB: ESDB_URL when set, else a container when a container runtime answers, else a
// visible skip naming why.
const IMAGE = process.env.ESDB_IMAGE ?? 'docker.eventstore.com/kurrent-latest/kurrentdb:latest';

async function findServer(): Promise<{ url: string; stop(): Promise<void> } | { skip: string }> {
  if (process.env.ESDB_URL) return { url: process.env.ESDB_URL, stop: async () => undefined };
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    return { skip: `ESDB_URL is not set and no container runtime is reachable (${(error as Error).message.split('\n')[0]})` };
  }
  const container = await new GenericContainer(IMAGE)
    .withEnvironment({ KURRENTDB_INSECURE: 'true', EVENTSTORE_INSECURE: 'true', KURRENTDB_RUN_PROJECTIONS: 'None' })
    .withExposedPorts(2113)
    .withWaitStrategy(Wait.forHttp('/health/live', 2113).forStatusCode(204))
    .withStartupTimeout(120_000)
    .start();
  return {
    url: `esdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`,
    stop: async () => void (await container.stop()),
  };
}

const server = await findServer();

if ('skip' in server) {
  console.warn(`EventStoreDB contract run skipped: ${server.skip}`);
  describe.skip(`EventStore contract: EventStoreDB (skipped: ${server.skip})`, () => {
    it('needs an EventStoreDB server', () => undefined);
  });
} else {
  const { afterAll } = await import('vitest');
  afterAll(() => server.stop());
  eventStoreContract({ name: `EventStoreDB at ${server.url}`, open: () => EsdbEventStore.connect(server.url) });
}
