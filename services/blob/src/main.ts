// The blob service on its own, against an external NATS cluster
// (configuration: CONCLAVE_* environment variables, see libs/runtime/src/config.ts).
import { ConfigError, loadServiceEnv, startHost } from "@conclave/runtime";
import { blobModule } from "./blob-module.ts";

try {
  const host = await startHost({ env: loadServiceEnv(), modules: [blobModule] });
  const stop = () => void host.close().then(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(err instanceof ConfigError ? 2 : 1);
}
