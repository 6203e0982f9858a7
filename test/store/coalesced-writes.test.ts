import type { Socket } from "node:net";
import { Store } from "@conclave/store";
import { useCluster } from "@conclave/testkit";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A store connection sends every frame of one event-loop turn in one socket write
// (libs/store/src/coalesced-writes.ts), and nothing is lost or reordered by it.

/** The store connection's current socket, with a count of the writes that reach the OS. */
function countWrites(store: Store): { writes: () => number } {
  const nc = store.conn.nc;
  if (!(nc instanceof NatsConnectionImpl)) throw new Error("not a nats.js connection");
  const socket = (nc.protocol.transport as unknown as { socket: Socket }).socket as Socket & {
    _write: (...a: unknown[]) => void;
    _writev: (...a: unknown[]) => void;
  };
  let writes = 0;
  for (const method of ["_write", "_writev"] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args: unknown[]) => {
      writes++;
      original(...args);
    };
  }
  return { writes: () => writes };
}

describe("coalesced writes", () => {
  const cluster = useCluster({ nodes: 1 });
  let store: Store;

  beforeAll(async () => {
    store = await Store.connect({ ...cluster().connectOptions("operator"), name: "coalesce-test", replicas: 1 });
  });
  afterAll(() => store?.close());

  it("requests from 20 callbacks of one turn leave in one write, and all are answered", async () => {
    // The echo answers from a connection of its own: replies written by the counted
    // connection would depend on how the server's frames happen to be split into reads.
    const echo = await connect(cluster().connectOptions("operator"));
    const sub = echo.subscribe("coalesce.echo", {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    await echo.flush();
    const nc = store.conn.nc;
    await nc.request("coalesce.echo", "warm-up", { timeout: 5_000 }); // the reply inbox's SUB is written here
    const counted = countWrites(store);
    // Twenty immediates queued together run in one check phase (Node runs an immediate
    // queued from inside one in the next loop iteration); nats.js flushes after each one.
    const answers = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) =>
          new Promise<string>((resolve, reject) =>
            setImmediate(() => {
              nc.request("coalesce.echo", String(i), { timeout: 5_000 }).then((m) => resolve(m.string()), reject);
            }),
          ),
      ),
    );
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    // One write carries the 20 requests (a server PING answered meanwhile could add one).
    expect(counted.writes()).toBeLessThanOrEqual(2);
    sub.unsubscribe();
    await echo.close();
  });

  it("a publish right before close still arrives, in order", async () => {
    const listener = await connect(cluster().connectOptions("operator"));
    const got: string[] = [];
    const sub = listener.subscribe("coalesce.last", {
      callback: (_e, m) => {
        got.push(m.string());
      },
    });
    await listener.flush();
    const sender = await Store.connect({
      ...cluster().connectOptions("operator"),
      name: "coalesce-close",
      replicas: 1,
    });
    for (let i = 0; i < 100; i++) sender.conn.nc.publish("coalesce.last", String(i));
    await sender.close();
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(100);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    sub.unsubscribe();
    await listener.close();
  });
});
