// Every subcommand of the cardsys CLI, each loaded only when run (`registry.ts`), and the audit's
// defaults that the audit's tests share.
export { registerCommands } from './registry.js';
export { auditDefaults } from './audit.js';
