// Load and pay at the store: the POS handlers, the blacklist copy, the line to head office.
export { BlacklistCache, type BlacklistedCard } from './blacklist-cache.js';
export { HeadOfficeLink } from './head-office-link.js';
export type { PurseServiceOptions } from './purse-counter.js';
export { startPurse, type PurseAtStore, type StartPurseOptions } from './start-purse.js';
export { chipLogMessage } from './load.js';
