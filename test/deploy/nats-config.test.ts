import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { generateCredentials, resolveNatsServer, serverEnv } from "@conclave/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  asMap,
  at,
  composeEnvironment,
  defaultImage,
  loadCompose,
  loadK8s,
  parseYaml,
  readText,
  root,
} from "./deploy-files.ts";

// The NATS node config is one file for tests, docker-compose and Kubernetes:
// checked here with the real server's config test (`nats-server -t`) under the
// environment docker-compose gives each node, and against the Helm values.
const CLUSTER_CONF = "deploy/nats/cluster-node.conf";
const { services } = loadCompose();
const natsNodes = Object.keys(services).filter((n) => n.startsWith("nats-"));
const composeEnv = (name: string) => composeEnvironment(services, name);
// A node config and the files it includes (accounts, and the RPC account's users).
const included = () => ["accounts.conf", "rpc-handlers.conf"].map((f) => readText(`deploy/nats/${f}`)).join("\n");
const confVariables = (file: string) => [
  ...new Set([...`${readText(file)}\n${included()}`.matchAll(/\$(NATS_[A-Z0-9_]*)/g)].map((m) => m[1])),
];
const clusterName = /cluster\s*\{[^}]*\bname:\s*([A-Za-z0-9_-]+)/.exec(readText(CLUSTER_CONF))?.[1];
const values = asMap(parseYaml(readText("deploy/k8s/nats-values.yaml")), "nats-values.yaml");

let bin: string;
let version: string;
beforeAll(async () => {
  ({ path: bin, version } = await resolveNatsServer());
});

/** `nats-server -c <file> -t` with exactly these variables (plus PATH). */
function configTest(file: string, vars: Record<string, string>) {
  return spawnSync(bin, ["-c", join(root, file), "-t"], {
    env: { PATH: process.env.PATH ?? "", ...vars },
    encoding: "utf8",
    timeout: 15_000,
  });
}

describe(`${CLUSTER_CONF} under docker-compose's environment`, () => {
  it.each(natsNodes)("passes nats-server -t as %s", (node) => {
    const r = configTest(CLUSTER_CONF, composeEnv(node));
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  // nats-server parses a variable's value as config: a generated secret that reads as a number (a
  // base64url password starting with "-" or a digit, 4% of them) stopped the server at start.
  it("passes with every generated credential set, not only compose's (200 sets)", () => {
    const node = composeEnv(natsNodes[0] as string);
    for (let i = 0; i < 200; i++) {
      const r = configTest(CLUSTER_CONF, { ...node, ...serverEnv(generateCredentials()) });
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    }
  });

  it("refuses a route password that reads as a number (the check above is real)", () => {
    const node = composeEnv(natsNodes[0] as string);
    const r = configTest(CLUSTER_CONF, { ...node, NATS_ROUTE_PASSWORD: "-dqDWTbqKtM7hfrtgmgDCAKL0Xda7OFo" });
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/NATS_ROUTE_PASSWORD/);
  });

  it("fails the same check when a variable is missing (the check is real)", () => {
    const { NATS_ROUTES: _, ...rest } = composeEnv(natsNodes[0] as string);
    const r = configTest(CLUSTER_CONF, rest);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/NATS_ROUTES/);
  });

  it("gets every variable it reads from each node's environment, and no stray NATS_ variable", () => {
    const used = confVariables(CLUSTER_CONF).sort();
    for (const node of natsNodes) {
      expect(
        Object.keys(composeEnv(node))
          .filter((k) => k.startsWith("NATS_"))
          .sort(),
        node,
      ).toEqual(used);
    }
  });

  it("single-node.conf passes too, with the same variables minus the cluster's and lame duck's", () => {
    // A planned stop of the only node is an outage whatever its lame-duck settings: the server defaults stay.
    const {
      NATS_CLUSTER_LISTEN: _l,
      NATS_ROUTES: _r,
      NATS_ROUTE_USER: _u,
      NATS_ROUTE_PASSWORD: _p,
      NATS_LAME_DUCK_DURATION: _d,
      NATS_LAME_DUCK_GRACE_PERIOD: _g,
      ...single
    } = composeEnv(natsNodes[0] as string);
    expect(confVariables("deploy/nats/single-node.conf").sort()).toEqual(Object.keys(single).sort());
    const r = configTest("deploy/nats/single-node.conf", single);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});

describe("deploy/k8s/nats-values.yaml (official NATS chart) matches the conf file and docker-compose", () => {
  const port = (listen: string | undefined) => Number(listen?.split(":")[1]);
  const node = composeEnv(natsNodes[0] as string);

  it("runs a 3-node cluster named as in the conf file", () => {
    expect(at(values, "config.cluster.enabled")).toBe(true);
    expect(at(values, "config.cluster.replicas")).toBe(3);
    expect(clusterName).toBe("conclave");
    expect(at(values, "config.cluster.merge.name")).toBe(clusterName);
    // The conf file leaves client advertisements on (server default).
    expect(at(values, "config.cluster.noAdvertise")).toBe(false);
  });

  it("keeps JetStream on a file store on persistent volumes", () => {
    expect(at(values, "config.jetstream.enabled")).toBe(true);
    expect(at(values, "config.jetstream.fileStore.enabled")).toBe(true);
    expect(at(values, "config.jetstream.fileStore.pvc.enabled")).toBe(true);
    expect(at(values, "config.jetstream.memoryStore.enabled")).toBe(false);
  });

  it("uses the ports docker-compose gives the same config", () => {
    expect(at(values, "config.nats.port")).toBe(port(node.NATS_LISTEN));
    expect(at(values, "config.cluster.port")).toBe(port(node.NATS_CLUSTER_LISTEN));
    expect(at(values, "config.monitor.port")).toBe(port(node.NATS_HTTP));
  });

  it("lame-ducks like docker-compose: the same duration and grace period", () => {
    expect(at(values, "config.merge.lame_duck_duration")).toBe(node.NATS_LAME_DUCK_DURATION);
    expect(at(values, "config.merge.lame_duck_grace_period")).toBe(node.NATS_LAME_DUCK_GRACE_PERIOD);
  });

  it("pins the image docker-compose pins, of the release series the tests run", () => {
    const tag = String(at(values, "container.image.tag"));
    expect(`${at(values, "container.image.repository")}:${tag}`).toBe(
      defaultImage(services[natsNodes[0] as string]?.image).image,
    );
    // Patch releases may differ when Debian moves ahead; a new minor means re-pinning.
    expect(tag.split(".").slice(0, 2).join("."), `tests run nats-server ${version}`).toBe(
      version.split(".").slice(0, 2).join("."),
    );
  });

  it("names the pods the services' CONCLAVE_NATS_URLS list", () => {
    const configMap = loadK8s().find((o) => o.kind === "ConfigMap" && o.metadata.name === "conclave-env");
    const urls = String(at(configMap, "data.CONCLAVE_NATS_URLS")).split(",");
    const name = String(values.fullnameOverride);
    const replicas = Number(at(values, "config.cluster.replicas"));
    expect(urls).toEqual(
      Array.from(
        { length: replicas },
        (_, i) => `nats://${name}-${i}.${name}-headless:${at(values, "config.nats.port")}`,
      ),
    );
  });
});
