import type { Decided, Decider, DomainEvent } from "./decider.ts";
import type { AggregateRef, EventSchemas } from "./event-log.ts";

/** A decided event as the log would store it at `seq` (pure: fixed actor and time), for decider tests. */
export function storedAt<S extends EventSchemas>(
  decided: Decided<S>,
  seq: number,
  aggregate: AggregateRef,
  at = "2026-11-25T00:00:00.000Z",
): DomainEvent<S> {
  const { id, ...event } = decided;
  return { v: 1, id: id ?? `e${seq}`, aggregate, actor: "test", at, prev: seq - 1, seq, ...event } as DomainEvent<S>;
}

/**
 * Given/when/then for a decider, without I/O (emmett's DeciderSpecification):
 * `given(events).when(command)` folds the given events, decides, and answers
 * the event decided (`decided`, `undefined`: nothing to do) and the state after
 * it; a refusal throws out of `when`, and `refusal(command)` answers the error thrown
 * (an error of its own when the decider decided instead).
 */
export function deciderSpec<C, State, S extends EventSchemas>(
  decider: Decider<C, State, S>,
  aggregate: AggregateRef = { type: "test", id: "a" },
) {
  return {
    given(events: Decided<S>[]) {
      const state = events.reduce((s, e, i) => decider.evolve(s, storedAt(e, i + 1, aggregate)), decider.initialState);
      return {
        state,
        when(command: C): { decided: Decided<S> | undefined; state: State } {
          const decided = decider.decide(command, state);
          return {
            decided,
            state: decided ? decider.evolve(state, storedAt(decided, events.length + 1, aggregate)) : state,
          };
        },
        refusal(command: C): unknown {
          let decided: Decided<S> | undefined;
          try {
            decided = decider.decide(command, state);
          } catch (err) {
            return err;
          }
          return new Error(`expected a refusal, decided ${JSON.stringify(decided)}`);
        },
      };
    },
  };
}
