export { ConfigError, isLoopbackHost, loadServiceEnv, type ServiceEnv, serviceEnvSchema } from "./config.ts";
export { natsAuthenticator, natsSystemAuthenticator } from "./nats-credentials.ts";
export { principalLookup, toPrincipal, usersTable } from "./principal-lookup.ts";
export { runService } from "./run-service.ts";
export { type Host, type ServiceContext, type ServiceModule, startHost } from "./service-host.ts";
export {
  type AuthMode,
  decideWithin,
  prefetched,
  principalOf,
  type RouteReads,
  registerSignedRequestAuth,
} from "./signed-request-hook.ts";
export { STORAGE_REFRESH_MS, storageGauges } from "./store-metrics.ts";
