// Every subcommand of the cardsys CLI. Only the module of the command being run is loaded (with
// the libraries it needs), so `cardsys --help` and a subcommand's `--help` answer at once.
import type { Command } from 'commander';

type Registration = (program: Command) => void;

interface TopLevelCommand {
  name: string;
  /** The line `cardsys --help` shows for it. */
  summary: string;
  /** The modules that register it and its subcommands. */
  load: Array<() => Promise<Registration>>;
}

const COMMANDS: TopLevelCommand[] = [
  {
    name: 'host',
    summary: 'head office: ingest, event store, read models, query API; provisioning and primary issuance',
    load: [
      () => import('./host.js').then((m) => m.registerHostCommand),
      () => import('./provision.js').then((m) => m.registerProvisionCommands),
      () => import('./issue-card.js').then((m) => m.registerIssueCardCommand),
      () => import('./token.js').then((m) => m.registerTokenCommand),
    ],
  },
  {
    name: 'edge',
    summary: "a store's node: local event log, replication, the POS counter",
    load: [() => import('./edge.js').then((m) => m.registerEdgeCommands)],
  },
  {
    name: 'store-broker',
    summary: "a store's broker: its nats-server on the shop LAN, joined to head office's hub as a leaf node",
    load: [() => import('./store-broker.js').then((m) => m.registerStoreBrokerCommand)],
  },
  {
    name: 'pos',
    summary: "a POS terminal's commands: issue, load, pay, read",
    load: [() => import('./pos.js').then((m) => m.registerPosCommands)],
  },
  {
    name: 'vcard',
    summary: 'a virtual IC card in a vpcd reader slot',
    load: [() => import('./vcard.js').then((m) => m.registerVcardCommands)],
  },
  {
    name: 'projections',
    summary: "head office's read models: rebuild",
    load: [() => import('./projections.js').then((m) => m.registerProjectionsCommands)],
  },
  {
    name: 'audit',
    summary: "auditors' tools: export, replay and verify, one event's proof",
    load: [() => import('./audit.js').then((m) => m.registerAuditCommands)],
  },
  {
    name: 'bench',
    summary: 'the performance figures, each beside its raw limit',
    load: [() => import('./bench.js').then((m) => m.registerBenchCommands)],
  },
  {
    name: 'demo',
    summary: 'a day at the counter with real processes',
    load: [() => import('./demo.js').then((m) => m.registerDemoCommand)],
  },
];

/**
 * Registers the command named in `args` (the arguments after the program name) with everything it
 * needs; for any other invocation (no command, `--help`, an unknown name) each command is listed
 * by name and summary only.
 */
export async function registerCommands(program: Command, args: readonly string[]): Promise<void> {
  const positional = args.filter((arg) => !arg.startsWith('-'));
  const name = positional[0] === 'help' ? positional[1] : positional[0];
  const wanted = COMMANDS.find((command) => command.name === name);
  if (!wanted) {
    for (const command of COMMANDS) program.command(command.name).summary(command.summary);
    return;
  }
  for (const load of wanted.load) (await load())(program);
  program.commands.find((command) => command.name() === wanted.name)?.summary(wanted.summary);
}
