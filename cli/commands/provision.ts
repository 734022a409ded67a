import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { natsServerConfig } from '../../infra/nats/index.js';
import { provisionHeadOffice, provisionedNatsUsers, provisionStore } from '../../host/provisioning/index.js';
import { say, withDataOption, type DataCliOptions } from '../options.js';

/** Head office's folder and a store's folder under the shared --data root. */
const hqDir = (data: string) => join(data, 'hq');
const storeDir = (data: string, storeId: string) => join(data, 'stores', storeId);

const listOf = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** `cardsys host provision-store` and `cardsys host nats-config`, added to the `host` command. */
export function registerProvisionCommands(program: Command): void {
  const host = program.commands.find((command) => command.name() === 'host') ?? program.command('host').description('head office');

  withDataOption(
    host
      .command('provision-store')
      .description(
        "make a store's keys (Ed25519 signing, X25519 sealing) and NATS credentials (edge and POS terminals) into " +
          '<data>/stores/<id>/, keep their public halves in <data>/hq/directory/, and regenerate the NATS authorization block',
      )
      .requiredOption('--store <id>', 'store id: 1-32 letters, digits, "-" or "_"')
      .requiredOption('--name <name>', "the store's name")
      .addOption(
        new Option('--nearby <ids>', 'comma-separated ids of nearby stores whose users this store may also issue cards to').default(''),
      ),
  ).action((options: DataCliOptions & { store: string; name: string; nearby: string }) => {
    const provisioned = provisionStore({
      hqDataDir: hqDir(options.data),
      storeId: options.store,
      name: options.name,
      nearbyStoreIds: listOf(options.nearby),
      bundleDir: storeDir(options.data, options.store),
    });
    say(`store ${provisioned.record.storeId} provisioned; its bundle (secrets, keep it at the store): ${resolve(provisioned.bundleDir)}`);
    say(`  signing key ${provisioned.record.signingKeyId}: ${provisioned.bundle.signingKey}`);
    say(`  sealing key ${provisioned.record.sealingKeyId}: ${provisioned.bundle.sealingKey}`);
    say(`  NATS credentials: edge ${provisioned.bundle.natsCreds}, POS terminals ${provisioned.bundle.posCreds}`);
    say(`NATS authorization block regenerated: ${provisioned.natsAuthConfigFile} (reload nats-server to admit the store)`);
  });

  withDataOption(
    host
      .command('nats-config')
      .description(
        'write a nats-server configuration (listen address, JetStream, every provisioned principal with its subject permissions)',
      )
      .addOption(new Option('--listen <host:port>', 'address nats-server listens on').default('127.0.0.1:4222'))
      .option('--out <file>', 'where to write it (default <data>/hq/nats-server.conf)'),
  ).action((options: DataCliOptions & { listen: string; out?: string }) => {
    const headOffice = provisionHeadOffice({ hqDataDir: hqDir(options.data) });
    const file = options.out ?? join(hqDir(options.data), 'nats-server.conf');
    const users = provisionedNatsUsers(hqDir(options.data));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, natsServerConfig({ listen: options.listen, jetstreamDir: resolve(options.data, 'nats', 'jetstream'), users }));
    say(`wrote ${resolve(file)} (${users.length} users); run: nats-server -c ${resolve(file)}`);
    say(
      `head office connects with --creds ${resolve(headOffice.files.natsCreds)}, the auditor with --creds ${resolve(headOffice.files.auditorCreds)}`,
    );
  });
}
