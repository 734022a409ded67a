// Continuous load reconciliation: every load is followed from authorised → account debited →
// credit started → card credited → confirmed (or reversed), and one that stays in a state past the
// state's deadline raises an alert at once, rather than being found by a review years later
// ("account debited, card not loaded"). Pure: head office's ledger keeps the tracks, a timer asks
// here which loads are overdue.
import { HQ_ORIGIN, type DomainEvent, type EventData } from '../contracts/index.js';

/** Where a load stands, furthest first: reversed and confirmed are final. */
export type LoadState = 'authorised' | 'debited' | 'credit_started' | 'credited' | 'confirmed' | 'reversed';

export const LOAD_STATES: readonly LoadState[] = ['authorised', 'debited', 'credit_started', 'credited', 'confirmed', 'reversed'];
const FINAL: ReadonlySet<LoadState> = new Set(['confirmed', 'reversed']);
/** The states a load is still on its way in. */
export const OPEN_LOAD_STATES: readonly LoadState[] = LOAD_STATES.filter((state) => !FINAL.has(state));

/** Which load: its authorisation, card, account and amount, and where it was asked for. */
export interface LoadParties {
  authorizationId: string;
  cardId: string;
  bankId: string;
  amount: number;
  /** The store that asked for the authorisation, and its terminal. */
  storeId: string;
  terminalId: string;
}

export interface LoadTrack extends LoadParties {
  /** No edge credits the card after this (from LoadAuthorised). */
  deadlineMs: number | undefined;
  authorised: boolean;
  debited: boolean;
  creditStarted: boolean;
  credited: boolean;
  completed: boolean;
  reversed: boolean;
  reversalReason: string | undefined;
  state: LoadState;
  /** The origin whose event put the load in its state: head office learns of it with that origin's next chain head. */
  stateOrigin: string;
  /** When head office learnt the load was in its state; undefined until that chain head is stored. */
  stateSinceMs: number | undefined;
  /** The state an overdue alert was last raised for (an alert stays open while the load stays there). */
  alertedState: LoadState | undefined;
}

function stateOf(track: Pick<LoadTrack, 'authorised' | 'debited' | 'creditStarted' | 'credited' | 'completed' | 'reversed'>): LoadState {
  if (track.reversed) return 'reversed';
  if (track.completed) return 'confirmed';
  if (track.credited) return 'credited';
  if (track.creditStarted) return 'credit_started';
  if (track.debited) return 'debited';
  return 'authorised';
}

/** Head office's events about a load, and the stores' events about its credit. */
const LOAD_EVENT_ORIGIN = {
  BankAccountDebited: 'hq',
  LoadAuthorised: 'hq',
  LoadAuthorisationCompleted: 'hq',
  LoadAuthorisationReversed: 'hq',
  LoadOverdue: 'hq',
  PurseCreditStarted: 'store',
  PurseLoaded: 'store',
} as const satisfies Partial<Record<DomainEvent['type'], 'hq' | 'store'>>;

type LoadEvent = Extract<DomainEvent, { type: keyof typeof LOAD_EVENT_ORIGIN }>;

/**
 * The load an event is about, when it is about one and comes from the origin that may say so (a
 * store cannot debit accounts or close loads; head office does not credit cards). A card credit
 * counts only when its card MAC verifies: the chip's word, not the store's.
 */
export function loadEventOf(event: DomainEvent, origin: string, creditMacValid: boolean): LoadEvent | undefined {
  const from = (LOAD_EVENT_ORIGIN as Record<string, 'hq' | 'store'>)[event.type];
  if (!from || (from === 'hq') !== (origin === HQ_ORIGIN)) return undefined;
  if (event.type === 'PurseLoaded' && !creditMacValid) return undefined;
  return event as LoadEvent;
}

const newTrack = (event: LoadEvent): LoadTrack => ({
  authorizationId: event.data.authorizationId,
  cardId: event.data.cardId,
  bankId: '',
  amount: 0,
  storeId: '',
  terminalId: '',
  deadlineMs: undefined,
  authorised: false,
  debited: false,
  creditStarted: false,
  credited: false,
  completed: false,
  reversed: false,
  reversalReason: undefined,
  state: 'authorised',
  stateOrigin: HQ_ORIGIN,
  stateSinceMs: undefined,
  alertedState: undefined,
});

/** The track after one of its events (from loadEventOf), from `origin`. */
export function advanceLoad(before: LoadTrack | undefined, event: LoadEvent, origin: string): LoadTrack {
  const track = { ...(before ?? newTrack(event)) };
  switch (event.type) {
    case 'BankAccountDebited':
      Object.assign(track, { debited: true, bankId: event.data.bankId, amount: event.data.amount, cardId: event.data.cardId });
      break;
    case 'LoadAuthorised':
      Object.assign(track, {
        authorised: true,
        bankId: event.data.bankId,
        amount: event.data.amount,
        storeId: event.data.storeId,
        terminalId: event.data.terminalId,
        deadlineMs: event.data.deadlineMs,
      });
      break;
    case 'PurseCreditStarted':
      track.creditStarted = true;
      if (!track.storeId)
        Object.assign(track, { storeId: event.data.storeId, terminalId: event.data.terminalId, amount: event.data.amount });
      break;
    case 'PurseLoaded':
      track.credited = true;
      if (!track.storeId)
        Object.assign(track, { storeId: event.data.storeId, terminalId: event.data.terminalId, amount: event.data.amount });
      break;
    case 'LoadAuthorisationCompleted':
      track.completed = true;
      break;
    case 'LoadAuthorisationReversed':
      Object.assign(track, { reversed: true, reversalReason: event.data.reason });
      break;
    case 'LoadOverdue':
      // Raised for the state the load was in when head office looked; it may have moved on since.
      if (event.data.state === track.state) track.alertedState = track.state;
      return track;
  }
  const state = stateOf(track);
  if (state !== track.state) Object.assign(track, { state, stateOrigin: origin, stateSinceMs: undefined });
  return track;
}

/** The track once head office stored the chain head of `origin` that covers the event putting it in its state. */
export function learntAt(track: LoadTrack, origin: string, receivedAtMs: number): LoadTrack {
  return track.stateSinceMs === undefined && track.stateOrigin === origin ? { ...track, stateSinceMs: receivedAtMs } : track;
}

/** The alert for an overdue load is open while the load is still in the state it was raised for. */
export function loadAlertOpen(track: LoadTrack): boolean {
  return track.alertedState !== undefined && track.alertedState === track.state;
}

/** How long each state may last before the load counts as stuck. */
export interface LoadDeadlines {
  /** After the authorisation's own deadline, for the store's credit (or its report of one) to reach head office. */
  debitGraceMs: number;
  /** After head office learnt a credit was started, for the card's credit to be recorded. */
  creditGraceMs: number;
  /** After head office learnt the card was credited, for head office to confirm the load. */
  confirmGraceMs: number;
}

export const DEFAULT_LOAD_DEADLINES: LoadDeadlines = { debitGraceMs: 60_000, creditGraceMs: 60_000, confirmGraceMs: 60_000 };

/** The instant past which the load's state counts as stuck; undefined while final or not yet known. */
function overdueAtMs(track: LoadTrack, deadlines: LoadDeadlines): number | undefined {
  switch (track.state) {
    case 'authorised':
    case 'debited':
      if (track.deadlineMs !== undefined) return track.deadlineMs + deadlines.debitGraceMs;
      return track.stateSinceMs === undefined ? undefined : track.stateSinceMs + deadlines.debitGraceMs;
    case 'credit_started':
      return track.stateSinceMs === undefined ? undefined : track.stateSinceMs + deadlines.creditGraceMs;
    case 'credited':
      return track.stateSinceMs === undefined ? undefined : track.stateSinceMs + deadlines.confirmGraceMs;
    default:
      return undefined;
  }
}

export interface CheckLoads {
  kind: 'check_loads';
  nowMs: number;
  deadlines: LoadDeadlines;
}

export type LoadOverdueEvent = { type: 'LoadOverdue'; data: EventData<'LoadOverdue'> };

/** One LoadOverdue per load past its state's deadline, once per state. */
export function decideOverdueLoads(command: CheckLoads, tracks: Iterable<LoadTrack>): LoadOverdueEvent[] {
  const events: LoadOverdueEvent[] = [];
  for (const track of tracks) {
    if (FINAL.has(track.state) || track.alertedState === track.state) continue;
    const overdueAt = overdueAtMs(track, command.deadlines);
    if (overdueAt === undefined || command.nowMs < overdueAt) continue;
    events.push({
      type: 'LoadOverdue',
      data: {
        authorizationId: track.authorizationId,
        cardId: track.cardId,
        bankId: track.bankId,
        amount: track.amount,
        state: track.state,
        stateSinceMs: track.stateSinceMs ?? 0,
        overdueAtMs: overdueAt,
        storeId: track.storeId,
        terminalId: track.terminalId,
      },
    });
  }
  return events;
}

/** What head office holds of the loads: its events (a card credit with the verdict on its MAC) and the chain heads that tell when it learnt them. */
export type LoadFact =
  | { type: 'event'; event: DomainEvent; origin: string; creditMacValid?: boolean }
  | { type: 'head'; origin: string; receivedAtMs: number };

/** Load reconciliation as a decider over those facts: given them, when checked at an instant, then the overdue alerts. */
export const loadReconciliationDecider = {
  initialState: (): Map<string, LoadTrack> => new Map(),
  evolve(state: Map<string, LoadTrack>, fact: LoadFact): Map<string, LoadTrack> {
    const next = new Map(state);
    if (fact.type === 'head') {
      for (const [id, track] of next) next.set(id, learntAt(track, fact.origin, fact.receivedAtMs));
      return next;
    }
    const event = loadEventOf(fact.event, fact.origin, fact.creditMacValid ?? false);
    if (event) next.set(event.data.authorizationId, advanceLoad(next.get(event.data.authorizationId), event, fact.origin));
    return next;
  },
  decide: (command: CheckLoads, state: Map<string, LoadTrack>) => decideOverdueLoads(command, state.values()),
};

/** Alerts for overdue loads: money taken from the account and not seen on the card comes first. */
export type LoadAlertKind = 'debited_not_credited' | 'load_unconfirmed';

const STATE_WORDS: Record<LoadState, string> = {
  authorised: 'authorised, the account not debited',
  debited: 'the account debited and no credit of the card heard of (the store offline, or the card pulled before the credit)',
  credit_started:
    'the account debited and the card credit started but not recorded (the card pulled during the credit, or the store offline)',
  credited: 'the card credited and head office has not confirmed the load',
  confirmed: 'confirmed',
  reversed: 'reversed',
};

/** The alert a LoadOverdue raises: its kind and what it says. */
export function loadOverdueAlert(overdue: {
  authorizationId: string;
  amount: number;
  bankId: string;
  cardId: string;
  state: string;
  storeId: string;
  overdueAtMs: number;
}): {
  kind: LoadAlertKind;
  message: string;
} {
  const state = overdue.state as LoadState;
  const kind: LoadAlertKind = state === 'debited' || state === 'credit_started' ? 'debited_not_credited' : 'load_unconfirmed';
  const words = STATE_WORDS[state] ?? overdue.state;
  return {
    kind,
    message:
      `load of ${overdue.amount.toLocaleString('en-US')} yen (authorisation ${overdue.authorizationId}, account ${overdue.bankId || 'unknown'}, store ${overdue.storeId || 'unknown'}) ` +
      `overdue since ${new Date(overdue.overdueAtMs).toISOString()}: ${words}`,
  };
}
