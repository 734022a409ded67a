// Head office's PIN unblock: a store asks for an unblock of the card in its reader, naming the
// holder as the clerk read it from an identity document; head office authorises it only for a
// card it issued, not blacklisted, whose registered user has that name and birth date. A refusal
// is recorded too (repeated identity mismatches are worth an operator's look); what the clerk
// entered is not. A store may be hostile: after a few mismatches for one card within a day, head
// office checks no more identities for it until the day has passed, so nobody can try birth dates
// until one fits (nor learn a holder's data that way).
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';
import { DomainRefusal, type Decider } from './decider.js';

export type PinUnblockRefusalCode = 'identity_mismatch' | 'unknown_card' | 'card_blacklisted' | 'too_many_attempts';

/** Identity mismatches for one card that head office takes within IDENTITY_CHECK_WINDOW_MS. */
const IDENTITY_MISMATCH_LIMIT = 5;
export const IDENTITY_CHECK_WINDOW_MS = 24 * 60 * 60_000;

/** The decision already taken for an authorisation id: asked again, head office answers the same. */
export type PinUnblockOutcome =
  | { authorised: true; cardId: string; pinResets: number }
  | { authorised: false; cardId: string; code: PinUnblockRefusalCode; message: string };

export interface PinUnblockState {
  /** Card → its registered user (CardPrimaryIssued). */
  cardUsers: Map<string, string>;
  /** User → name and birth date as registered (UserRegistered). */
  users: Map<string, { name: string; birthDate: string }>;
  blacklisted: Set<string>;
  outcomes: Map<string, PinUnblockOutcome>;
  /** Card → when its identity checks failed since its last authorised unblock. */
  mismatches: Map<string, number[]>;
}

export interface PinUnblockCommand {
  kind: 'authorise_unblock';
  authorizationId: string;
  cardId: string;
  /** The chip's PIN reset counter, as the store read it. */
  pinResets: number;
  /** As the clerk entered them. */
  name: string;
  birthDate: string;
  storeId: string;
  terminalId: string;
  nowMs: number;
}

export const initialPinUnblockState = (): PinUnblockState => ({
  cardUsers: new Map(),
  users: new Map(),
  blacklisted: new Set(),
  outcomes: new Map(),
  mismatches: new Map(),
});

/** Folds the events the decision needs; `atMs` is when the event happened (from its envelope). State is updated in place. */
export function evolvePinUnblock(state: PinUnblockState, event: DomainEvent, atMs = 0): PinUnblockState {
  switch (event.type) {
    case 'UserRegistered':
      state.users.set(event.data.userId, { name: event.data.personal?.name ?? '', birthDate: event.data.personal?.birthDate ?? '' });
      break;
    case 'CardPrimaryIssued':
      state.cardUsers.set(event.data.cardId, event.data.userId);
      break;
    case 'CardBlacklisted':
      state.blacklisted.add(event.data.cardId);
      break;
    case 'CardReinstated':
      state.blacklisted.delete(event.data.cardId);
      break;
    case 'PinUnblockAuthorised':
      state.outcomes.set(event.data.authorizationId, { authorised: true, cardId: event.data.cardId, pinResets: event.data.pinResets });
      state.mismatches.delete(event.data.cardId);
      break;
    case 'PinUnblockRefused':
      state.outcomes.set(event.data.authorizationId, {
        authorised: false,
        cardId: event.data.cardId,
        code: event.data.reason as PinUnblockRefusalCode,
        message: event.data.message,
      });
      if (event.data.reason === 'identity_mismatch')
        state.mismatches.set(event.data.cardId, [...(state.mismatches.get(event.data.cardId) ?? []), atMs]);
      break;
  }
  return state;
}

/**
 * Names compare as people write them on a form: Unicode compatibility forms folded (full-width
 * letters, half-width kana), case and runs of spaces ignored.
 */
export function sameName(a: string, b: string): boolean {
  const fold = (name: string) => name.normalize('NFKC').trim().replace(/\s+/g, ' ').toLowerCase();
  return fold(a) === fold(b);
}

function refusal(cardId: string, code: PinUnblockRefusalCode, message: string) {
  return { cardId, code, message };
}

/** Why head office will not unblock this card for this person, or undefined when it will. */
function refusalFor(command: PinUnblockCommand, state: PinUnblockState) {
  const { cardId } = command;
  const userId = state.cardUsers.get(cardId);
  if (userId === undefined) return refusal(cardId, 'unknown_card', `card ${cardId} was not issued by head office`);
  if (state.blacklisted.has(cardId))
    return refusal(cardId, 'card_blacklisted', `card ${cardId} is reported lost or stolen: its PIN is not unblocked`);
  const recent = (state.mismatches.get(cardId) ?? []).filter((atMs) => atMs > command.nowMs - IDENTITY_CHECK_WINDOW_MS);
  if (recent.length >= IDENTITY_MISMATCH_LIMIT) {
    const next = new Date(recent[recent.length - IDENTITY_MISMATCH_LIMIT]! + IDENTITY_CHECK_WINDOW_MS).toISOString();
    return refusal(
      cardId,
      'too_many_attempts',
      `${recent.length} identity checks of card ${cardId} failed within a day: head office checks no more before ${next}`,
    );
  }
  const user = state.users.get(userId);
  if (!user || !sameName(user.name, command.name) || user.birthDate !== command.birthDate)
    return refusal(cardId, 'identity_mismatch', "the name and birth date do not match the card's registered user");
  return undefined;
}

export function decidePinUnblock(command: PinUnblockCommand, state: PinUnblockState): NewDomainEvent[] {
  if (!command.name.trim()) throw new DomainRefusal('bad_request', "the holder's name is required");
  if (!/^\d{4}-\d{2}-\d{2}$/.test(command.birthDate)) throw new DomainRefusal('bad_request', 'birth date must be YYYY-MM-DD');
  const earlier = state.outcomes.get(command.authorizationId);
  if (earlier) {
    if (earlier.cardId !== command.cardId)
      throw new DomainRefusal('bad_request', `authorisation id ${command.authorizationId} was used for another card`);
    return [];
  }
  const { authorizationId, cardId, storeId, terminalId } = command;
  const refused = refusalFor(command, state);
  if (refused)
    return [
      { type: 'PinUnblockRefused', data: { authorizationId, cardId, reason: refused.code, message: refused.message, storeId, terminalId } },
    ];
  return [{ type: 'PinUnblockAuthorised', data: { authorizationId, cardId, pinResets: command.pinResets, storeId, terminalId } }];
}

export const pinUnblockDecider: Decider<PinUnblockCommand, PinUnblockState> = {
  initialState: initialPinUnblockState,
  evolve: evolvePinUnblock,
  decide: decidePinUnblock,
};
