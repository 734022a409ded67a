// Accident cards (lost, stolen, misused): head office's blacklist, numbered by version so that a
// store can tell whether its copy is current.
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';

export interface BlacklistEntry {
  cardId: string;
  reason: string;
  sinceMs: number;
}

export interface BlacklistState {
  /** Number of blacklist changes so far. */
  version: number;
  entries: Map<string, BlacklistEntry>;
}

export type BlacklistCommand = { kind: 'blacklist' | 'reinstate'; cardId: string; reason: string; nowMs: number };

export const initialBlacklistState = (): BlacklistState => ({ version: 0, entries: new Map() });

/**
 * Folds blacklist events. `atMs` is when the event happened (from its envelope); events carry no
 * time of their own. State is updated in place.
 */
export function evolveBlacklist(state: BlacklistState, event: DomainEvent, atMs = 0): BlacklistState {
  if (event.type === 'CardBlacklisted') {
    state.version += 1;
    state.entries.set(event.data.cardId, { cardId: event.data.cardId, reason: event.data.reason, sinceMs: atMs });
  } else if (event.type === 'CardReinstated') {
    state.version += 1;
    state.entries.delete(event.data.cardId);
  }
  return state;
}

export function decideBlacklist(command: BlacklistCommand, state: BlacklistState): NewDomainEvent[] {
  const reason = command.reason.trim();
  if (reason.length === 0) throw new DomainRefusal('reason_required', 'a reason is required');
  const listed = state.entries.has(command.cardId);
  if (command.kind === 'blacklist') {
    if (listed) throw new DomainRefusal('already_blacklisted', `card ${command.cardId} is already blacklisted`);
    return [{ type: 'CardBlacklisted', data: { cardId: command.cardId, reason } }];
  }
  if (!listed) throw new DomainRefusal('not_blacklisted', `card ${command.cardId} is not blacklisted`);
  return [{ type: 'CardReinstated', data: { cardId: command.cardId, reason } }];
}

export const blacklistDecider: Decider<BlacklistCommand, BlacklistState> = {
  initialState: initialBlacklistState,
  evolve: (state, event) => evolveBlacklist(state, event),
  decide: decideBlacklist,
};
