import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';

import { DEFAULT_TERMINAL_ID } from '../../contracts/index.js';
import {
  provisionStore,
  provisionTerminal,
  headOfficeFiles,
  hubNodeFiles,
  reloadHub,
  writeHubClusterNatsConfig,
  writeHubNatsConfig,
  type HubReload,
  type WrittenHubConfig,
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

/** What became of the hub's accounts: reloaded here (on every node), or the command to run where the hub runs. */
function hubLines(accountsFile: string, nodes: HubReload[], admitted: string): string[] {
  const which = (index: number) => (nodes.length > 1 ? `hub node ${index + 1}` : 'the hub');
  return [
    `hub accounts regenerated: ${resolve(accountsFile)}`,
    ...nodes.map((hub, index) =>
      hub.reloaded
        ? `  ${which(index)} (nats-server, process ${hub.pid}) reloaded them: ${admitted} is admitted`
        : `  reload ${which(index)} to admit ${admitted}, where it runs: ${hub.command} (${hub.reason})`,
    ),
  ];
}

/**
 * A cluster's addresses for one kind of port: as many as there are nodes, or one whose port the
 * next nodes count up from (the nodes of a cluster on one machine).
 */
function nodeAddresses(option: string, text: string, nodes: number): string[] {
  const given = listOf(text);
  if (given.length === nodes) return given;
  const match = given.length === 1 ? /^(.*):(\d{1,5})$/.exec(given[0]!) : null;
  if (!match) throw new Error(`${option} takes one address, or one per node (${nodes}), comma-separated; got "${text}"`);
  return Array.from({ length: nodes }, (_, index) => `${match[1]}:${Number(match[2]) + index}`);
}

/** A cluster node's file beside the single hub's: nats-server.conf → nats-server-2.conf. */
const nodeFile = (file: string, node: number) => file.replace(/(\.[^./]*)?$/, (ending) => `-${node}${ending}`);

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
      const hubNodes = await reloadHub(hqDir(options.data));
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
          hub: hubNodes[0],
          ...(hubNodes.length > 1 ? { hubNodes } : {}),
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
          ...hubLines(provisioned.natsAuthConfigFile, hubNodes, `store ${provisioned.record.storeId}`),
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
    const hubNodes = await reloadHub(hqDir(options.data));
    answer(
      {
        storeId: options.store,
        terminalId: provisioned.record.terminalId,
        dir: resolve(provisioned.files.dir),
        hubAccounts: resolve(provisioned.natsAuthConfigFile),
        hub: hubNodes[0],
        ...(hubNodes.length > 1 ? { hubNodes } : {}),
      },
      [
        `terminal ${provisioned.record.terminalId} of store ${options.store} provisioned: ${resolve(provisioned.files.dir)}`,
        ...hubLines(provisioned.natsAuthConfigFile, hubNodes, `terminal ${provisioned.record.terminalId}`),
        'a store broker admits it once its configuration is written again (cardsys edge broker-config) and reloaded',
      ],
    );
  });

  withDataOption(
    host
      .command('nats-config')
      .description(
        "write the hub's nats-server configuration: JetStream in head office's account, one account per provisioned store, TLS, leaf logins by certificate" +
          '; with --cluster, one configuration per node of a JetStream cluster',
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
      .option('--cluster <nodes>', 'a JetStream cluster of this many hub nodes (3 or more): streams keep 3 replicas')
      .addOption(
        new Option('--route-listen <host:port>', "with --cluster: address each node listens on for the others' routes").default(
          '127.0.0.1:6222',
        ),
      )
      .option('--out <file>', 'where to write it (default <data>/hq/nats-server.conf; with --cluster <data>/hq/nats-server-<n>.conf)')
      .addHelpText(
        'after',
        [
          '',
          'With --cluster <n>, --listen, --leaf-listen, --leaf-advertise and --route-listen each take n comma-separated',
          'addresses, one per node, or one address whose port the next nodes count up from (nodes on one machine).',
          'Example: cardsys host nats-config --cluster 3 --listen 127.0.0.1:4222 --leaf-listen 127.0.0.1:7422 --route-listen 127.0.0.1:6222',
        ].join('\n'),
      ),
  ).action(
    (
      options: DataCliOptions & {
        listen: string;
        leafListen?: string;
        leafAdvertise?: string;
        tlsHost: string;
        cluster?: string;
        routeListen: string;
        out?: string;
      },
    ) => {
      const hqDataDir = hqDir(options.data);
      const tlsHosts = listOf(options.tlsHost);
      let written: WrittenHubConfig;
      if (options.cluster === undefined) {
        written = writeHubNatsConfig(hqDataDir, {
          listen: options.listen,
          ...(options.leafListen ? { leafListen: options.leafListen } : {}),
          ...(options.leafAdvertise ? { leafAdvertise: options.leafAdvertise } : {}),
          jetstreamDir: resolve(options.data, 'nats', 'jetstream'),
          tlsHosts,
          ...(options.out ? { out: options.out } : {}),
        });
      } else {
        const count = Number(options.cluster);
        if (!Number.isInteger(count) || count < 3 || count > 9)
          throw new Error(`--cluster: expected 3 to 9 nodes, got "${options.cluster}"`);
        const listen = nodeAddresses('--listen', options.listen, count);
        const routes = nodeAddresses('--route-listen', options.routeListen, count);
        const leaves = options.leafListen ? nodeAddresses('--leaf-listen', options.leafListen, count) : undefined;
        const advertised = options.leafAdvertise ? nodeAddresses('--leaf-advertise', options.leafAdvertise, count) : undefined;
        written = writeHubClusterNatsConfig(hqDataDir, {
          nodes: listen.map((address, index) => ({
            listen: address,
            routeListen: routes[index]!,
            ...(leaves ? { leafListen: leaves[index]! } : {}),
            ...(advertised ? { leafAdvertise: advertised[index]! } : {}),
            jetstreamDir: resolve(options.data, 'nats', `node-${index + 1}`, 'jetstream'),
            ...(options.out ? { out: nodeFile(options.out, index + 1) } : {}),
          })),
          tlsHosts,
        });
      }
      const files = headOfficeFiles(hqDataDir);
      const run = written.files.map((file) => `nats-server -c ${resolve(file)}`);
      answer(
        {
          file: resolve(written.file),
          ...(written.files.length > 1 ? { files: written.files.map((file) => resolve(file)) } : {}),
          stores: written.stores,
          users: written.users,
          certificateIssued: written.certificateIssued,
          hubAddress: resolve(files.hubAddress),
          pidFile: resolve(written.files.length > 1 ? hubNodeFiles(hqDataDir, 1).pidFile : files.hubPidFile),
        },
        [
          written.files.length > 1
            ? `wrote ${written.files.length} cluster nodes' configurations (${written.stores} store accounts, ${written.users} users); run one on each node: ${run.join('; ')}`
            : `wrote ${resolve(written.file)} (${written.stores} store accounts, ${written.users} users); run: ${run[0]}`,
          ...(written.certificateIssued ? [`issued the hub's TLS certificate ${resolve(files.hubTls.cert)}`] : []),
          `head office's parts connect with --data ${resolve(options.data)} (keys/nats-<part>.nk, CA ${resolve(files.tlsCa.cert)}, hub address ${resolve(files.hubAddress)})`,
          `the auditor connects with --creds ${resolve(files.auditorCreds)} --tls-ca ${resolve(files.tlsCa.cert)}`,
        ],
      );
    },
  );
}
