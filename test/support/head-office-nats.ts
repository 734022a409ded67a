// Head office's parts connected to a test nats-server, each with its own provisioned credentials.
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import type { HeadOfficeConnections } from '../../host/index.js';
import { headOfficeFiles } from '../../host/provisioning/index.js';
import { HEAD_OFFICE_PARTS, natsConnectOptions } from '../../infra/nats/index.js';

export async function connectHeadOffice(
  url: string,
  hqDataDir: string,
  extra: Partial<ConnectionOptions> = {},
): Promise<{ nats: HeadOfficeConnections; close(): Promise<void> }> {
  const files = headOfficeFiles(hqDataDir);
  const connected = await Promise.all(
    HEAD_OFFICE_PARTS.map(
      async (part) => [part, await connect({ servers: url, ...natsConnectOptions(files.natsCreds[part]), ...extra })] as const,
    ),
  );
  const nats = Object.fromEntries(connected) as HeadOfficeConnections;
  return { nats, close: async () => void (await Promise.all(Object.values(nats).map((nc) => nc.close()))) };
}
