// The gateway service on its own, against an external NATS cluster
// (configuration: CONCLAVE_* variables, libs/runtime/src/config.ts, and
// CONCLAVE_GATEWAY_* variables, services/gateway/src/gateway-config.ts).
import { runService } from "@conclave/runtime";
import { GatewayConfigError } from "./gateway-config.ts";
import { createGatewayModule, gatewayConfigFor } from "./gateway-module.ts";

// Both configurations are checked before anything connects: a bad one fails fast, naming the variable.
await runService(
  (env) => [createGatewayModule({ config: gatewayConfigFor({ env, logger: { warn: (msg) => console.warn(msg) } }) })],
  (err) => err instanceof GatewayConfigError,
);
