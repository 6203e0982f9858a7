import { resolveNatsServer } from "@conclave/testkit";

// Resolve nats-server once for the whole run; workers inherit NATS_SERVER_BIN.
export default async function setup(): Promise<void> {
  const bin = await resolveNatsServer({ log: (line) => console.error(line) });
  console.log(`nats-server ${bin.version} (${bin.source}): ${bin.path}`);
  process.env.NATS_SERVER_BIN = bin.path;
}
