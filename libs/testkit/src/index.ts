export { useCluster } from "./cluster-fixture.ts";
export { eventually } from "./eventually.ts";
export { type NatsServerBinary, natsCacheDir, projectRoot, resolveNatsServer } from "./nats-binary.ts";
export { type ClusterOptions, freePorts, type NatsBackend, NatsCluster } from "./nats-cluster.ts";
export { DEFAULT_NATS_IMAGE, HARNESS_LABEL, NatsContainerNode } from "./nats-container.ts";
export {
  generateCredentials,
  loadOrCreateCredentials,
  type NatsCredentials,
  readCredentials,
  routePassword,
  routeUrl,
  SERVICE_ROLES,
  type ServiceRole,
  seedAuthenticator,
  seedFileOf,
  seedsEnv,
  serverEnv,
  writeCredentials,
} from "./nats-credentials.ts";
export { NatsNode, type NodeSpec, type NodeState } from "./nats-node.ts";
