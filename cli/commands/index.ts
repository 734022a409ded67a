import type { Command } from 'commander';
import { registerProvisionCommands } from './provision.js';

/** Every subcommand of the cardsys CLI. */
export function registerCommands(program: Command): void {
  void program;
  registerProvisionCommands(program);
}
