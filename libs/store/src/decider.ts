import type { z } from "zod";
import type { EventSchemas, StoredEvent } from "./event-log.ts";

/**
 * One stored event of a schema map, typed by its `type` (emmett's `Event<'Type', Data>`):
 * a switch on `event.type` narrows `event.data`, so no handler casts it.
 */
export type DomainEvent<S extends EventSchemas> = {
  [K in keyof S & string]: Omit<StoredEvent, "type" | "data"> & { type: K; data: z.output<S[K]> };
}[keyof S & string];

/** What `decide` returns: an event not stored yet. `id` is its idempotency key when the decision has one. */
export type Decided<S extends EventSchemas> = {
  [K in keyof S & string]: { type: K; data: z.output<S[K]>; id?: string };
}[keyof S & string];

/**
 * An aggregate's rules as pure functions: `decide` refuses (throws) or says
 * which event follows (`undefined`: nothing to do), `evolve` folds an event
 * into the state. No I/O: tested given events / when a command / then events.
 */
export interface Decider<Command, State, S extends EventSchemas> {
  schemas: S;
  initialState: State;
  decide(command: Command, state: State): Decided<S> | undefined;
  evolve(state: State, event: DomainEvent<S>): State;
}

/**
 * The typed view of a stored event, or `undefined` for a type the map does not
 * name. Sound because `EventLog.parse` validated the data against the schema
 * its map registers for that type, and services register these same maps
 * (the one place the union is asserted).
 */
export function domainEvent<S extends EventSchemas>(schemas: S, event: StoredEvent): DomainEvent<S> | undefined {
  return Object.hasOwn(schemas, event.type) ? (event as DomainEvent<S>) : undefined;
}

/** The state after a sequence of stored events; events of other types change nothing. */
export function foldEvents<C, State, S extends EventSchemas>(
  decider: Decider<C, State, S>,
  events: readonly StoredEvent[],
  from: State = decider.initialState,
): State {
  return events.reduce((state, e) => {
    const event = domainEvent(decider.schemas, e);
    return event ? decider.evolve(state, event) : state;
  }, from);
}
