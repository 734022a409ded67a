// pcscd + vpcd set-up: reader slots for virtual cards, the quickack card link, daemon start/stop.
export { CARD_LINK_ADDRESS, ensurePcscd, ensureQuickAckRoute, pcscdStatus, restartPcscd, stopPcscd, VPCD_SLOTS, vpcdSlot, type PcscdStatus, type VpcdSlot } from './pcscd.js';
export { leaseVpcdSlot, type SlotLease } from './slot-lease.js';
