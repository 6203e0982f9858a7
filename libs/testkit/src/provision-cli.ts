// `npm run nats-server`: resolve (and if needed download) the nats-server binary,
// print what is used, exit non-zero with an actionable message otherwise.
import { resolveNatsServer } from "./nats-binary.ts";

try {
  const bin = await resolveNatsServer({ log: (line) => console.error(line) });
  console.log(`nats-server ${bin.version} (${bin.source}): ${bin.path}`);
} catch (err) {
  console.error(`error: ${(err as Error).message}`);
  process.exit(1);
}
