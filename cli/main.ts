import { Command } from 'commander';
import { registerCommands } from './commands/index.js';

const program = new Command('cardsys')
  .description('IC card secondary issuance at store POS terminals and an electronic purse, event-sourced over NATS JetStream')
  .showHelpAfterError('(run with --help for usage)')
  .enablePositionalOptions();

registerCommands(program, process.argv.slice(2))
  .then(() => program.parseAsync(process.argv))
  .catch((error: unknown) => {
    process.stderr.write(`cardsys: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  });
