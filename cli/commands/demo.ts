import { Option, type Command } from 'commander';
import { DemoStepError, runDemo } from '../../demo/index.js';
import { stopSignal } from '../options.js';
import { answer, say } from '../output.js';
import { parseHttpAddress } from './host.js';

interface DemoCliOptions {
  data: string;
  http: string;
  keepRunning?: boolean;
}

/** `cardsys demo`: a day at the counter with head office, stores A and B and a virtual card. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run NATS, head office and stores A and B as processes on embedded defaults, and walk a card through a day: ' +
        'application, primary issuance, secondary issuance at store A, load, pay, store A offline and back',
    )
    .addOption(
      new Option('--data <dir>', 'where the demo keeps its files and logs (an earlier demo there is wiped)').default('./data/demo'),
    )
    .addOption(new Option('--http <host:port>', "where head office's query API listens").default('127.0.0.1:8080'))
    .option('--keep-running', 'leave everything running after the walk-through, until Ctrl-C')
    .addHelpText(
      'after',
      '\nNeeds nats-server and pcscd with the vpcd readers (make demo installs and starts them).\n' +
        'Each process logs to <data>/logs/<name>.log; a failing step names the log to read.',
    )
    .action(async (options: DemoCliOptions) => {
      parseHttpAddress(options.http);
      try {
        const summary = await runDemo({
          dataDir: options.data,
          http: options.http,
          keepRunning: options.keepRunning ?? false,
          stopSignal: stopSignal(),
        });
        say('\ndemo finished: every process stopped');
        answer(summary);
      } catch (error) {
        if (!(error instanceof DemoStepError)) throw error;
        say(`\ndemo stopped: ${error.message}`);
        answer({ error: error.message }, [], 1);
      }
    });
}
