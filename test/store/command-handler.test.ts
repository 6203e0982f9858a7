import {
  COMMAND_ATTEMPTS,
  type CommandPath,
  type Decider,
  EventLog,
  foldEvents,
  handleCommand,
  Store,
} from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

// A counter that refuses to go past a limit: enough to tell "decided again on the newer state" from "retried blindly".
const schemas = { "counter.added": z.object({ n: z.number().int().positive() }) };
const LIMIT = 3;
const counter: Decider<{ n: number }, number, typeof schemas> = {
  schemas,
  initialState: 0,
  decide: ({ n }, total) => {
    if (total + n > LIMIT) throw new Error("over the limit");
    return { type: "counter.added", data: { n } };
  },
  evolve: (total, event) => total + event.data.n,
};

describe("the one command path (handleCommand) on a real event log", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;
  let log: EventLog;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "command-handler-test", replicas: 1 });
    await store.provision();
    log = new EventLog(store.conn, schemas, { opTimeoutMs: store.opTimeoutMs });
  });
  afterAll(() => store?.close());

  const pathFor = (id: string, applied: number[], loads: { n: number } = { n: 0 }) =>
    ({
      decider: counter,
      load: async () => {
        loads.n++;
        const events = await log.read({ type: "counter", id });
        return {
          aggregate: { type: "counter", id },
          state: foldEvents(counter, events),
          version: events.at(-1)?.seq ?? 0,
        };
      },
      apply: async (event) => {
        applied.push(event.seq);
      },
      conflict: () => new Error("lost every race"),
    }) satisfies CommandPath<{ n: number }, number, typeof schemas>;

  it("concurrent commands: a lost race decides again on the newer state, each landed event applied once", async () => {
    const applied: number[] = [];
    const results = await Promise.allSettled(
      Array.from({ length: 3 }, () => handleCommand(log, pathFor("race", applied), { n: 1 }, "t")),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled"]);
    const events = await log.read({ type: "counter", id: "race" });
    expect(foldEvents(counter, events)).toBe(3);
    expect(applied.sort()).toEqual(events.map((e) => e.seq));
    // Over the limit now: the decider refuses on the state it loaded, nothing is appended.
    await expect(handleCommand(log, pathFor("race", applied), { n: 1 }, "t")).rejects.toThrow("over the limit");
    expect(await log.read({ type: "counter", id: "race" })).toHaveLength(3);
  });

  it("a command whose state is always behind the log gives up after COMMAND_ATTEMPTS with the path's conflict", async () => {
    const id = "stale";
    await log.append({ type: "counter", id }, { type: "counter.added", data: { n: 1 }, actor: "t" }, 0);
    const applied: number[] = [];
    let loads = 0;
    const stale: CommandPath<{ n: number }, number, typeof schemas> = {
      ...pathFor(id, applied),
      load: async () => {
        loads++;
        return { aggregate: { type: "counter", id }, state: 0, version: 0 };
      },
    };
    await expect(handleCommand(log, stale, { n: 1 }, "t")).rejects.toThrow("lost every race");
    expect(loads).toBe(COMMAND_ATTEMPTS);
    expect(applied).toEqual([]);
    expect(await log.read({ type: "counter", id })).toHaveLength(1);
  });

  it("nothing decided: no append, the state as loaded", async () => {
    const quiet: Decider<{ n: number }, number, typeof schemas> = { ...counter, decide: () => undefined };
    const applied: number[] = [];
    const outcome = await handleCommand(log, { ...pathFor("quiet", applied), decider: quiet }, { n: 1 }, "t");
    expect(outcome).toEqual({ state: 0, before: 0 });
    expect(await log.version({ type: "counter", id: "quiet" })).toBe(0);
  });
});
