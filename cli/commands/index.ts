import type { Command } from 'commander';
import { registerProvisionCommands } from './provision.js';
import { registerEdgeCommands } from './edge.js';
import { registerAuditCommands } from './audit.js';
import { registerBenchCommands } from './bench.js';
import { registerVcardCommands } from './vcard.js';
import { registerPosCommands } from './pos.js';
import { registerHostCommand } from './host.js';
import { registerProjectionsCommands } from './projections.js';
import { registerDemoCommand } from './demo.js';
import { registerIssueCardCommand } from './issue-card.js';
import { registerTokenCommand } from './token.js';

/** Every subcommand of the cardsys CLI. */
export function registerCommands(program: Command): void {
  void program;
  registerProvisionCommands(program);
  registerEdgeCommands(program);
  registerAuditCommands(program);
  registerBenchCommands(program);
  registerVcardCommands(program);
  registerPosCommands(program);
  registerHostCommand(program);
  registerProjectionsCommands(program);
  registerDemoCommand(program);
  registerIssueCardCommand(program);
  registerTokenCommand(program);
}
