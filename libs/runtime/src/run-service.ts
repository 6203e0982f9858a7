import { ConfigError, loadServiceEnv, type ServiceEnv } from "./config.ts";
import { type ServiceModule, startHost } from "./service-host.ts";

/**
 * The `main.ts` of a service: validate the configuration (a bad value exits 2
 * naming the variable, before anything connects), start the host, and shut
 * down gracefully on SIGTERM/SIGINT. `isConfigError` recognises a module's own
 * configuration errors as such.
 */
export async function runService(
  modules: (env: ServiceEnv) => ServiceModule[],
  isConfigError: (err: unknown) => boolean = () => false,
): Promise<void> {
  try {
    const env = loadServiceEnv();
    const host = await startHost({ env, modules: modules(env) });
    const stop = () => void host.close().then(() => process.exit(0));
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  } catch (err) {
    const config = err instanceof ConfigError || isConfigError(err);
    console.error(config ? (err as Error).message : err);
    process.exit(config ? 2 : 1);
  }
}
