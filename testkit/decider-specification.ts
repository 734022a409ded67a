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

export const DeciderSpecification = {
  for<Command, State>(decider: Decider<Command, State>) {
    return {
      given(events: NewDomainEvent[] = []) {
        return {
          when(command: Command): Then<State> {
            const state = events.map(normaliseEvent).reduce((s, e) => decider.evolve(s, e), decider.initialState());
            const run = () => decider.decide(command, state);
            return {
              // biome-ignore lint/suspicious/noThenProperty: given / when / then is the specification's vocabulary
              then(expected) {
                const produced = run();
                assert.deepStrictEqual(produced.map(normaliseEvent), expected.map(normaliseEvent));
                return produced.map(normaliseEvent).reduce((s, e) => decider.evolve(s, e), state);
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
      },
    };
  },
};
