// The gateway service on its own, against an external NATS cluster
// (configuration: CONCLAVE_* variables, libs/runtime/src/config.ts, and
// CONCLAVE_GATEWAY_* variables, services/gateway/src/gateway-config.ts).
import { ConfigError, loadServiceEnv, startHost } from "@conclave/runtime";
import { GatewayConfigError } from "./gateway-config.ts";
import { createGatewayModule, gatewayConfigFor } from "./gateway-module.ts";

try {
  const env = loadServiceEnv();
  // Both configurations are checked before anything connects: a bad one fails fast, naming the variable.
  const config = gatewayConfigFor({ env, logger: { warn: (msg) => console.warn(msg) } });
  const host = await startHost({ env, modules: [createGatewayModule({ config })] });
  const stop = () => void host.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} catch (err) {
  const config = err instanceof ConfigError || err instanceof GatewayConfigError;
  console.error(config ? (err as Error).message : err);
  process.exit(config ? 2 : 1);
}
