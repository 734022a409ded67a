import { join } from 'node:path';
import { Option, type Command } from 'commander';
import type { EventStoreChoice } from '../../host/index.js';

// Options head office's commands share: where its data is and which event store holds its events.

export interface EventStoreCliOptions {
  eventStore: 'sqlite' | 'esdb';
  esdb?: string;
}

export const hqDataDir = (data: string) => join(data, 'hq');

export function withEventStoreOptions(command: Command): Command {
  return command
    .addOption(new Option('--event-store <kind>', 'host event store: sqlite (one file in <data>/hq/) or esdb').choices(['sqlite', 'esdb']).default('sqlite'))
    .addOption(new Option('--esdb <url>', 'EventStoreDB connection string, e.g. esdb://127.0.0.1:2113?tls=false').env('ESDB_URL'));
}

export function eventStoreChoice(options: EventStoreCliOptions): EventStoreChoice {
  if (options.eventStore === 'sqlite') return 'sqlite';
  if (!options.esdb) throw new Error('--event-store esdb needs --esdb <url> (or ESDB_URL)');
  return { esdbUrl: options.esdb };
}
