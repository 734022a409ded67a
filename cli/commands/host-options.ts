import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { withoutPassword, type EventStoreChoice } from '../../host/index.js';

// Options head office's commands share: where its data is and which event store holds its events.

export interface EventStoreCliOptions {
  /** `sqlite`, a `postgres://` (or `postgresql://`) URL, or an `esdb://` connection string. */
  eventStore: string;
}

export const hqDataDir = (data: string) => join(data, 'hq');

export function withEventStoreOptions(command: Command): Command {
  return command.addOption(
    new Option(
      '--event-store <sqlite|postgres://…|esdb://…>',
      'host event store: sqlite (<data>/hq/events.db), PostgreSQL as postgres://user[:password]@host[:port]/database[?schema=name] ' +
        '(schema cardsys unless named; made if missing), or EventStoreDB as esdb://host:2113?tls=false',
    )
      .env('CARDSYS_EVENT_STORE')
      .default('sqlite'),
  );
}

export function eventStoreChoice(options: EventStoreCliOptions): EventStoreChoice {
  const value = options.eventStore.trim();
  if (value === 'sqlite') return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(value)) return { postgresUrl: value };
  if (/^esdb(\+discover)?:\/\//.test(value)) return { esdbUrl: value };
  throw new Error(`--event-store: expected sqlite, a postgres:// URL or an esdb:// connection string, got "${withoutPassword(value)}"`);
}
