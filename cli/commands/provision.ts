import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';

import { DEFAULT_TERMINAL_ID } from '../../contracts/index.js';
import { provisionStore, provisionTerminal, headOfficeFiles, writeHubNatsConfig } from '../../host/provisioning/index.js';
import { LOCAL_HOSTS } from '../../infra/nats/index.js';
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
        "make a store's keys (Ed25519 signing, X25519 sealing, PIN master), NATS credentials (edge, and each POS terminal its own) and TLS certificate into " +
          "<data>/stores/<id>/, keep their public halves in <data>/hq/directory/, and regenerate the hub's accounts and leaf logins",
      )
      .requiredOption('--store <id>', 'store id: 1-32 letters, digits, "-" or "_"')
      .requiredOption('--name <name>', "the store's name")
      .addOption(
        new Option('--nearby <ids>', 'comma-separated ids of nearby stores whose users this store may also issue cards to').default(''),
      )
      .addOption(
        new Option(
          '--broker-host <names>',
          "comma-separated names and addresses of the store's broker on the shop LAN, for its TLS certificate",
        ).default(LOCAL_HOSTS.join(',')),
      )
      .addOption(
        new Option(
          '--terminals <ids>',
          "comma-separated ids of the store's POS terminals, each with its own NATS credentials and PIN key",
        ).default(DEFAULT_TERMINAL_ID),
      ),
  ).action((options: DataCliOptions & { store: string; name: string; nearby: string; brokerHost: string; terminals: string }) => {
    const provisioned = provisionStore({
      hqDataDir: hqDir(options.data),
      storeId: options.store,
      name: options.name,
      nearbyStoreIds: listOf(options.nearby),
      bundleDir: storeDir(options.data, options.store),
      brokerHosts: listOf(options.brokerHost),
      terminals: listOf(options.terminals),
    });
    say(`store ${provisioned.record.storeId} provisioned; its bundle (secrets, keep it at the store): ${resolve(provisioned.bundleDir)}`);
    say(`  signing key ${provisioned.record.signingKeyId}: ${provisioned.bundle.signingKey}`);
    say(`  sealing key ${provisioned.record.sealingKeyId}: ${provisioned.bundle.sealingKey}`);
    say(`  NATS credentials of the edge: ${provisioned.bundle.natsCreds}; PIN master key (edge only): ${provisioned.bundle.pinMasterKey}`);
    for (const terminal of provisioned.record.terminals)
      say(
        `  terminal ${terminal.terminalId} (credentials and PIN key, for that terminal): ${provisioned.bundle.terminal(terminal.terminalId).dir}`,
      );
    say(`  TLS: certificate ${provisioned.bundle.tls.cert} (broker and leaf login), CA ${provisioned.bundle.tlsCa}`);
    say(`hub accounts regenerated: ${provisioned.natsAuthConfigFile} (reload the hub's nats-server to admit the store)`);
  });

  withDataOption(
    host
      .command('provision-terminal')
      .description(
        'add a POS terminal to a provisioned store: its own NATS credentials (it may publish only on cardsys.pos.<store>.<terminal>) and ' +
          "PIN key in <data>/stores/<store>/terminals/<terminal>/, and regenerate the hub's accounts",
      )
      .requiredOption('--store <id>', 'the provisioned store')
      .requiredOption('--terminal <id>', 'terminal id: 1-32 letters, digits, "-" or "_"'),
  ).action((options: DataCliOptions & { store: string; terminal: string }) => {
    const provisioned = provisionTerminal({
      hqDataDir: hqDir(options.data),
      storeId: options.store,
      terminalId: options.terminal,
      bundleDir: storeDir(options.data, options.store),
    });
    say(`terminal ${provisioned.record.terminalId} of store ${options.store} provisioned: ${resolve(provisioned.files.dir)}`);
    say(`hub accounts regenerated: ${provisioned.natsAuthConfigFile} (reload the hub's nats-server to admit the terminal)`);
    say(`a store broker admits it once its configuration is written again (cardsys edge broker-config) and reloaded`);
  });

  withDataOption(
    host
      .command('nats-config')
      .description(
        "write the hub's nats-server configuration: JetStream in head office's account, one account per provisioned store, TLS, leaf logins by certificate",
      )
      .addOption(new Option('--listen <host:port>', 'address nats-server listens on for clients').default('127.0.0.1:4222'))
      .option('--leaf-listen <host:port>', "address the stores' brokers connect to (leaf nodes); none when omitted")
      .option('--leaf-advertise <host:port>', 'leaf address the hub tells brokers about (default: what they dialled)')
      .addOption(
        new Option(
          '--tls-host <names>',
          'more comma-separated names and addresses clients reach the hub by, for its TLS certificate',
        ).default(''),
      )
      .option('--out <file>', 'where to write it (default <data>/hq/nats-server.conf)'),
  ).action((options: DataCliOptions & { listen: string; leafListen?: string; leafAdvertise?: string; tlsHost: string; out?: string }) => {
    const written = writeHubNatsConfig(hqDir(options.data), {
      listen: options.listen,
      ...(options.leafListen ? { leafListen: options.leafListen } : {}),
      ...(options.leafAdvertise ? { leafAdvertise: options.leafAdvertise } : {}),
      jetstreamDir: resolve(options.data, 'nats', 'jetstream'),
      tlsHosts: listOf(options.tlsHost),
      ...(options.out ? { out: options.out } : {}),
    });
    const files = headOfficeFiles(hqDir(options.data));
    say(
      `wrote ${resolve(written.file)} (${written.stores} store accounts, ${written.users} users); run: nats-server -c ${resolve(written.file)}`,
    );
    if (written.certificateIssued) say(`issued the hub's TLS certificate ${resolve(files.hubTls.cert)}`);
    say(`head office's parts connect with --data ${resolve(options.data)} (keys/nats-<part>.nk, CA ${resolve(files.tlsCa.cert)})`);
    say(`the auditor connects with --creds ${resolve(files.auditorCreds)} --tls-ca ${resolve(files.tlsCa.cert)}`);
  });
}
