// A day at the counter with real processes: head office, two stores, a virtual card moving from
// head office's reader to store A's, and store A's WAN link cut and restored. The day itself is
// the list of steps in `steps.ts`; this runs them in order, each narrated, and stops everything.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ClusterChoice, Day, type DemoSummary } from './context.js';
import { DemoStepError, Narrator } from './narrator.js';
import { ProcessGroup, type ChildProcessError } from './processes.js';
import { type DayPart, dayOf } from './steps.js';

export interface DemoOptions {
  /** Where everything goes; wiped first when it holds an earlier demo. */
  dataDir: string;
  /** Where head office's API listens, "host:port". */
  http: string;
  /** Leave everything running until `stopSignal` settles. */
  keepRunning: boolean;
  /** Settles on Ctrl-C / SIGTERM: ends a kept-running demo, interrupts a running one. */
  stopSignal: Promise<string>;
  /** The day on a clustered hub with two head-office instances on PostgreSQL, instead of one machine's embedded defaults. */
  cluster?: ClusterChoice;
  /** Parts of the day to leave out. */
  skip?: readonly DayPart[];
}

/** Marks a data folder the demo made, so that only such a folder is ever wiped. */
const MARKER = '.cardsys-demo';

function prepareDataDir(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    if (!existsSync(join(dataDir, MARKER))) {
      throw new Error(`${dataDir} holds files the demo did not make; choose an empty or new folder with --data`);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MARKER), 'made by "cardsys demo"; the next demo run wipes this folder\n');
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const dataDir = resolve(options.dataDir);
  prepareDataDir(dataDir);
  const steps = dayOf(options.cluster !== undefined, options.skip);
  const narrator = new Narrator(steps.length);
  const day = new Day(dataDir, options.http, options.keepRunning, new ProcessGroup(join(dataDir, 'logs')), options.cluster);
  let finished = false;

  const died = new Promise<ChildProcessError>((resolve) =>
    day.group.onUnexpectedExit((error) => {
      narrator.fail(error);
      resolve(error);
    }),
  );
  void options.stopSignal.then((signal) => {
    if (!finished) narrator.fail(new Error(`interrupted by ${signal}`));
  });

  try {
    for (const step of steps) await narrator.step(step.title, step.log && day.logOf(step.log), () => step.run(day));
    finished = true;
    if (options.keepRunning) {
      const death = await Promise.race([options.stopSignal.then(() => undefined), died]);
      if (death) throw new DemoStepError('Keep running until Ctrl-C', death.message, death.logFile);
    }
    return day.summary;
  } finally {
    finished = true;
    await day.close();
  }
}
