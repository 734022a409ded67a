import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';

import { DEFAULT_TERMINAL_ID } from '../../contracts/index.js';
import {
  provisionStore,
  provisionTerminal,
  headOfficeFiles,
  reloadHub,
  writeHubNatsConfig,
  type HubReload,
} from '../../host/provisioning/index.js';
import { LOCAL_HOSTS } from '../../infra/nats/index.js';
import { withDataOption, type DataCliOptions } from '../options.js';
import { answer } from '../output.js';

/** Head office's folder and a store's folder under the shared --data root. */
const hqDir = (data: string) => join(data, 'hq');
const storeDir = (data: string, storeId: string) => join(data, 'stores', storeId);

const listOf = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** What became of the hub's accounts: reloaded here, or the command to run where the hub runs. */
function hubLines(accountsFile: string, hub: HubReload, admitted: string): string[] {
  return [
    `hub accounts regenerated: ${resolve(accountsFile)}`,
    hub.reloaded
      ? `  the hub (nats-server, process ${hub.pid}) reloaded them: ${admitted} is admitted`
      : `  reload the hub to admit ${admitted}, where it runs: ${hub.command} (${hub.reason})`,
  ];
}

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
      )
      .option('--broker-url <url>', "where the store's edge and POS terminals reach its broker (default nats://<first --broker-host>:4222)")
      .addHelpText(
        'after',
        [
          '',
          "The hub's accounts and leaf logins are files its configuration includes; when the hub runs on this machine",
          '(its process id in <data>/hq/nats-server.pid) it is told to reload them at once, otherwise the command to',
          'run there is printed. A running `cardsys host` registers the store within seconds, without a restart.',
        ].join('\n'),
      ),
  ).action(
    async (
      options: DataCliOptions & { store: string; name: string; nearby: string; brokerHost: string; terminals: string; brokerUrl?: string },
    ) => {
      const provisioned = provisionStore({
        hqDataDir: hqDir(options.data),
        storeId: options.store,
        name: options.name,
        nearbyStoreIds: listOf(options.nearby),
        bundleDir: storeDir(options.data, options.store),
        brokerHosts: listOf(options.brokerHost),
        terminals: listOf(options.terminals),
        ...(options.brokerUrl ? { brokerUrl: options.brokerUrl } : {}),
      });
      const hub = await reloadHub(hqDir(options.data));
      const bundle = provisioned.bundle;
      const bundleDir = resolve(provisioned.bundleDir);
      answer(
        {
          storeId: provisioned.record.storeId,
          bundleDir,
          signingKeyId: provisioned.record.signingKeyId,
          sealingKeyId: provisioned.record.sealingKeyId,
          edgeCreds: resolve(bundle.natsCreds),
          pinMasterKey: resolve(bundle.pinMasterKey),
          terminals: provisioned.record.terminals.map((terminal) => ({
            terminalId: terminal.terminalId,
            dir: resolve(bundle.terminal(terminal.terminalId).dir),
          })),
          tlsCa: resolve(bundle.tlsCa),
          brokerAddress: resolve(bundle.brokerAddress),
          hubAccounts: resolve(provisioned.natsAuthConfigFile),
          hub,
        },
        [
          `store ${provisioned.record.storeId} provisioned; its bundle (secrets, keep it at the store): ${bundleDir}`,
          `  signing key ${provisioned.record.signingKeyId}: ${resolve(bundle.signingKey)}`,
          `  sealing key ${provisioned.record.sealingKeyId}: ${resolve(bundle.sealingKey)}`,
          `  NATS credentials of the edge: ${resolve(bundle.natsCreds)}; PIN master key (edge only): ${resolve(bundle.pinMasterKey)}`,
          ...provisioned.record.terminals.map(
            (terminal) =>
              `  terminal ${terminal.terminalId} (credentials and PIN key, for that terminal): ${resolve(bundle.terminal(terminal.terminalId).dir)}`,
          ),
          `  TLS: certificate ${resolve(bundle.tls.cert)} (broker and leaf login), CA ${resolve(bundle.tlsCa)}`,
          `  the store's broker, as its edge and terminals reach it: ${resolve(bundle.brokerAddress)}`,
          ...hubLines(provisioned.natsAuthConfigFile, hub, `store ${provisioned.record.storeId}`),
        ],
      );
    },
  );

  withDataOption(
    host
      .command('provision-terminal')
      .description(
        'add a POS terminal to a provisioned store: its own NATS credentials (it may publish only on cardsys.pos.<store>.<terminal>) and ' +
          "PIN key in <data>/stores/<store>/terminals/<terminal>/, and regenerate the hub's accounts",
      )
      .requiredOption('--store <id>', 'the provisioned store')
      .requiredOption('--terminal <id>', 'terminal id: 1-32 letters, digits, "-" or "_"'),
  ).action(async (options: DataCliOptions & { store: string; terminal: string }) => {
    const provisioned = provisionTerminal({
      hqDataDir: hqDir(options.data),
      storeId: options.store,
      terminalId: options.terminal,
      bundleDir: storeDir(options.data, options.store),
    });
    const hub = await reloadHub(hqDir(options.data));
    answer(
      {
        storeId: options.store,
        terminalId: provisioned.record.terminalId,
        dir: resolve(provisioned.files.dir),
        hubAccounts: resolve(provisioned.natsAuthConfigFile),
        hub,
      },
      [
        `terminal ${provisioned.record.terminalId} of store ${options.store} provisioned: ${resolve(provisioned.files.dir)}`,
        ...hubLines(provisioned.natsAuthConfigFile, hub, `terminal ${provisioned.record.terminalId}`),
        'a store broker admits it once its configuration is written again (cardsys edge broker-config) and reloaded',
      ],
    );
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
    answer(
      {
        file: resolve(written.file),
        stores: written.stores,
        users: written.users,
        certificateIssued: written.certificateIssued,
        hubAddress: resolve(files.hubAddress),
        pidFile: resolve(files.hubPidFile),
      },
      [
        `wrote ${resolve(written.file)} (${written.stores} store accounts, ${written.users} users); run: nats-server -c ${resolve(written.file)}`,
        ...(written.certificateIssued ? [`issued the hub's TLS certificate ${resolve(files.hubTls.cert)}`] : []),
        `head office's parts connect with --data ${resolve(options.data)} (keys/nats-<part>.nk, CA ${resolve(files.tlsCa.cert)}, hub address ${resolve(files.hubAddress)})`,
        `the auditor connects with --creds ${resolve(files.auditorCreds)} --tls-ca ${resolve(files.tlsCa.cert)}`,
      ],
    );
  });
}
