// The virtual card: the purse application behind vsmartcard's vpcd, its state kept in a file.
export { CARD_LINK_HOST, VirtualCard, VPCD_BASE_PORT, type VirtualCardOptions } from './virtual-card.js';
export { loadCardState, saveCardState, writeFileAtomic } from './state-file.js';
