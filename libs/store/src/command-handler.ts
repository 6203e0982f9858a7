import type { Decided, Decider, DomainEvent } from "./decider.ts";
import { ConflictError } from "./errors.ts";
import type { AggregateRef, EventLog, EventSchemas } from "./event-log.ts";

/** The state a command decides on, with the aggregate version it reflects. */
export interface Loaded<State> {
  aggregate: AggregateRef;
  state: State;
  /** Stream sequence of the aggregate's last event reflected in `state` (0: none). */
  version: number;
}

/** How one aggregate's commands reach their state and make their events visible. */
export interface CommandPath<Command, State, S extends EventSchemas> {
  decider: Decider<Command, State, S>;
  /** `afterConflict`: the previous load lost an append race, so its source was behind the log. */
  load(afterConflict: boolean): Promise<Loaded<State>>;
  /**
   * Makes a stored event visible where the command's answer promises it (read models), before
   * answering; `loaded` is the state it was decided on (the state before the event).
   */
  apply(event: DomainEvent<S>, loaded: Loaded<State>): Promise<void>;
  /** The error a command answers when it lost every race (the caller's 409). */
  conflict(): Error;
}

/** How often a command decides again after losing an append race. */
export const COMMAND_ATTEMPTS = 3;

export interface CommandOutcome<State, S extends EventSchemas> {
  /** The state after the command: after its event, or as loaded when there was nothing to do. */
  state: State;
  event?: DomainEvent<S>;
  /** The state the command decided on. */
  before: State;
}

/**
 * The one command path (issue 16): load, decide, append with the loaded
 * version as the expected version (optimistic concurrency, checked by the
 * stream leader), apply, answer. A lost race loads again and decides again,
 * up to COMMAND_ATTEMPTS times, then answers the path's conflict: two
 * commands that both still make sense both land, one that no longer does is
 * refused by its decider on the newer state.
 */
export async function handleCommand<Command, State, S extends EventSchemas>(
  log: EventLog,
  path: CommandPath<Command, State, S>,
  command: Command,
  actor: string,
): Promise<CommandOutcome<State, S>> {
  const { decider } = path;
  for (let attempt = 0; attempt < COMMAND_ATTEMPTS; attempt++) {
    const loaded = await path.load(attempt > 0);
    const decided: Decided<S> | undefined = decider.decide(command, loaded.state);
    if (!decided) return { state: loaded.state, before: loaded.state };
    try {
      const stored = await log.append(loaded.aggregate, { ...decided, actor }, loaded.version);
      // The log stored what the decider typed (append validates it against the same schemas).
      const event = { ...stored, type: decided.type, data: decided.data } as DomainEvent<S>;
      await path.apply(event, loaded);
      return { state: decider.evolve(loaded.state, event), event, before: loaded.state };
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  throw path.conflict();
}
