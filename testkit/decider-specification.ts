// Given / when / then for deciders: given past events, when a command, then the new events or the
// refusal. Events on both sides go through the protobuf codec, so defaults compare as they would
// after a trip through the event store.
import assert from 'node:assert/strict';
import { decodeEvent, encodeEvent, type DomainEvent, type NewDomainEvent } from '../contracts/index.js';
import type { Decider } from '../domain/index.js';

/** An event as it reads back from the store: every field present, defaults filled in. */
function normaliseEvent(event: NewDomainEvent): DomainEvent {
  return decodeEvent(event.type, encodeEvent(event));
}

type ErrorMatcher = (new (...args: never[]) => Error) | ((error: Error) => boolean) | { code: string };

export interface Then<State> {
  /** The decision produced exactly these events (compared field by field after encoding). */
  then(expected: NewDomainEvent[]): State;
  /** The decision was refused with an error of this class, satisfying this predicate, or with this code. */
  thenThrows(matcher: ErrorMatcher): void;
}

/** A decider folded from facts richer than domain events, e.g. events with where and when they reached head office. */
export interface FactDecider<Command, State, Fact> {
  initialState(): State;
  evolve(state: State, fact: Fact): State;
  decide(command: Command, state: State): NewDomainEvent[];
}

function specify<Command, State, Given>(
  decider: FactDecider<Command, State, Given>,
  given: Given[],
  produced: (event: DomainEvent) => Given,
) {
  return {
    when(command: Command): Then<State> {
      const state = given.reduce((s, fact) => decider.evolve(s, fact), decider.initialState());
      const run = () => decider.decide(command, state);
      return {
        // biome-ignore lint/suspicious/noThenProperty: given / when / then is the specification's vocabulary
        then(expected) {
          const events = run().map(normaliseEvent);
          assert.deepStrictEqual(events, expected.map(normaliseEvent));
          return events.map(produced).reduce((s, fact) => decider.evolve(s, fact), state);
        },
        thenThrows(matcher) {
          let caught: unknown;
          try {
            run();
          } catch (error) {
            caught = error;
          }
          assert.ok(caught instanceof Error, 'the decision should have been refused');
          const error = caught;
          if (typeof matcher === 'object')
            assert.equal((error as Error & { code?: string }).code, matcher.code, `unexpected refusal: ${error.message}`);
          else if (matcher.prototype instanceof Error || matcher === Error)
            assert.ok(error instanceof matcher, `unexpected refusal: ${error.name}: ${error.message}`);
          else assert.ok((matcher as (error: Error) => boolean)(error), `unexpected refusal: ${error.message}`);
        },
      };
    },
  };
}

export const DeciderSpecification = {
  for<Command, State>(decider: Decider<Command, State>) {
    return {
      given: (events: NewDomainEvent[] = []) => specify(decider, events.map(normaliseEvent), (event) => event),
    };
  },
  /** Given facts (as the decider folds them), when a command, then events; `asFact` folds the decided events too. */
  forFacts<Command, State, Fact>(decider: FactDecider<Command, State, Fact>, asFact: (event: DomainEvent) => Fact) {
    return {
      given: (facts: Fact[] = []) => specify(decider, facts, asFact),
    };
  },
};
