import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { applyConfigFile } from './config-file.js';
import { withEveryCommandOptions } from './options.js';
import { failed, finishOutput, startOutput } from './output.js';

const args = process.argv.slice(2);
startOutput(args);
process.on('exit', finishOutput);

const program = new Command('cardsys')
  .description('IC card secondary issuance at store POS terminals and an electronic purse, event-sourced over NATS JetStream')
  .showHelpAfterError('(run with --help for usage)')
  .enablePositionalOptions()
  // Usage errors are thrown rather than exiting, so that --json can report them as JSON.
  .exitOverride();

registerCommands(program, args)
  .then(() => {
    withEveryCommandOptions(program);
    applyConfigFile(program, args);
    return program.parseAsync(process.argv);
  })
  .catch(failed);
