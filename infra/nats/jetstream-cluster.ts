// JetStream on a lone hub or a clustered one: how many copies head office's streams keep (on a
// cluster three, so that any one node may fail and a majority still holds every message), and
// waiting for a cluster's JetStream to answer (its nodes elect a leader after they start).
import { jetstreamManager, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

const CLUSTER_REPLICAS = 3;

/** The replicas for a stream made over this connection: the server says whether it is one of a cluster. */
export function streamReplicas(nc: NatsConnection): number {
  return nc.info?.cluster ? CLUSTER_REPLICAS : 1;
}

/**
 * Creates the stream, or leaves an existing one as it is but for its replicas, which only grow (a
 * lone hub that became a cluster's node keeps its streams and gains their copies).
 */
export async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string; num_replicas: number },
): Promise<void> {
  const existing = await jsm.streams.info(config.name).then(
    (info) => info,
    (error: Error) => {
      if (/stream not found/i.test(error.message)) return undefined;
      throw error;
    },
  );
  if (!existing) {
    await jsm.streams.add(config);
    return;
  }
  if (existing.config.num_replicas < config.num_replicas)
    await jsm.streams.update(config.name, { ...existing.config, num_replicas: config.num_replicas });
}

/** How long a starting cluster may take to elect its JetStream leader (measured here: about 5 s). */
const JETSTREAM_READY_MS = 60_000;

/** A JetStream manager once JetStream answers: at once on a lone server, after the election on a cluster. */
export async function jetstreamManagerWhenReady(nc: NatsConnection, timeoutMs = JETSTREAM_READY_MS): Promise<JetStreamManager> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await jetstreamManager(nc, { timeout: 2_000 });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`JetStream did not answer within ${timeoutMs / 1000} s: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
