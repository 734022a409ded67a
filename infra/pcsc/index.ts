// pcscd + vpcd set-up: reader slots for virtual cards, the quickack card link, daemon start/stop.
export { ensurePcscd, pcscdStatus, vpcdSlot, type PcscdStatus, type VpcdSlot } from './pcscd.js';
export { leaseVpcdSlot, type SlotLease } from './slot-lease.js';
