// The access service (the auth callout for bots) on its own, against an external NATS cluster
// (configuration: CONCLAVE_* variables, libs/runtime/src/config.ts, and
// CONCLAVE_ACCESS_* variables, services/access/src/access-config.ts).
import { runService } from "@conclave/runtime";
import { AccessConfigError, loadAccessConfig } from "./access-config.ts";
import { createAccessModule } from "./access-module.ts";

// Both configurations are checked before anything connects: a bad one fails fast, naming the variable.
await runService(
  () => [createAccessModule({ config: loadAccessConfig() })],
  (err) => err instanceof AccessConfigError,
);
