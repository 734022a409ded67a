// The options of a store broker's configuration, shared by `cardsys store-broker` (writes and runs
// it) and `cardsys edge broker-config` (writes it).
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { StoreId } from '../../contracts/index.js';
import { brokerListenOf, writeStoreBrokerConfig } from '../../host/provisioning/index.js';
import { withDataOption, type DataCliOptions } from '../options.js';

export interface BrokerCliOptions extends DataCliOptions {
  store: string;
  hub: string[];
  listen?: string;
  out?: string;
}

const storeDir = (data: string, storeId: string) => join(data, 'stores', storeId);

function parseStoreId(id: string): string {
  const parsed = StoreId.safeParse(id);
  if (!parsed.success) throw new Error(`--store: ${parsed.error.issues[0]?.message ?? 'invalid store id'}`);
  return parsed.data;
}

/** The options a store broker's configuration takes (`store-broker` and `edge broker-config`). */
export function withBrokerOptions(command: Command): Command {
  return withDataOption(
    command
      .requiredOption('--store <id>', 'store id')
      .requiredOption('--hub <url...>', "the hub's leaf URL(s), e.g. tls://hq.example:7422")
      .addOption(
        new Option(
          '--listen <host:port>',
          "where the broker listens for the store's edge and POS terminals (default: the port of the broker address provisioning " +
            'recorded in <data>/stores/<id>/store-broker.json, on every interface, or on 127.0.0.1 when that address is local)',
        ),
      )
      .option('--out <file>', 'where to write the configuration (default <data>/stores/<id>/nats-broker.conf)'),
  );
}

/** Writes the store broker's configuration; its file and listen address. */
export function writeBroker(options: BrokerCliOptions): { file: string; listen: string } {
  const bundleDir = storeDir(options.data, parseStoreId(options.store));
  const written = writeStoreBrokerConfig(bundleDir, {
    listen: options.listen ?? brokerListenOf(bundleDir),
    hubLeafUrls: options.hub,
    ...(options.out ? { out: options.out } : {}),
  });
  return { file: resolve(written.file), listen: written.listen };
}
