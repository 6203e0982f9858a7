export { useCluster } from "./cluster-fixture.ts";
export { eventually } from "./eventually.ts";
export { type NatsServerBinary, natsCacheDir, projectRoot, resolveNatsServer } from "./nats-binary.ts";
export { type ClusterOptions, freePorts, NatsCluster } from "./nats-cluster.ts";
export { NatsNode, type NodeSpec, type NodeState } from "./nats-node.ts";
