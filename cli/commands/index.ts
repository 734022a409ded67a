import type { Command } from 'commander';

/** Every subcommand of the cardsys CLI. */
export function registerCommands(program: Command): void {
  void program;
}
