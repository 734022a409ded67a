// The shape every decider in this folder has: state folded from past events, and a decision that
// turns a command and the current state into new events or a refusal (a thrown error).
import type { DomainEvent, NewDomainEvent } from '../contracts/index.js';

export interface Decider<Command, State, Event extends NewDomainEvent = NewDomainEvent> {
  initialState(): State;
  evolve(state: State, event: DomainEvent): State;
  decide(command: Command, state: State): Event[];
}

/** A command the domain refuses; `code` is machine-readable, the message is for people. */
export class DomainRefusal extends Error {
  override name = 'DomainRefusal';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Folds events into a decider's state. */
export function foldEvents<State>(decider: Pick<Decider<never, State>, 'initialState' | 'evolve'>, events: Iterable<DomainEvent>): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}
