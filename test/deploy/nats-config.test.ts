import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { generateCredentials, resolveNatsServer, routeUrl, serverEnv } from "@conclave/testkit";
import { beforeAll, describe, expect, it } from "vitest";
import {
  asMap,
  at,
  composeEnvironment,
  defaultImage,
  loadCompose,
  loadK8s,
  parseYaml,
  parseYamlDocuments,
  readText,
  root,
  type YamlMap,
} from "./deploy-files.ts";
import { chartConfig, chartContainer, chartVolumes, type EnvVar, formatConfig, kubeletEnv } from "./nats-chart.ts";

// The NATS node config is one file for tests, docker-compose and Kubernetes:
// checked here with the real server's config test (`nats-server -t`) under the
// environment docker-compose gives each node, and against the Helm values.
const CLUSTER_CONF = "deploy/nats/cluster-node.conf";
const { services } = loadCompose();
const natsNodes = Object.keys(services).filter((n) => n.startsWith("nats-"));
const composeEnv = (name: string) => composeEnvironment(services, name);
// A node config and the files it includes (accounts, and the RPC account's users).
const INCLUDED = ["accounts.conf", "rpc-handlers.conf"];
const included = () => INCLUDED.map((f) => readText(`deploy/nats/${f}`)).join("\n");
const confVariables = (file: string) => [
  ...new Set([...`${readText(file)}\n${included()}`.matchAll(/\$(NATS_[A-Z0-9_]*)/g)].map((m) => m[1])),
];
const clusterName = /cluster\s*\{[^}]*\bname:\s*([A-Za-z0-9_-]+)/.exec(readText(CLUSTER_CONF))?.[1];
const values: YamlMap = asMap(parseYaml(readText("deploy/k8s/nats-values.yaml")), "nats-values.yaml");

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

// The server config the chart makes of the values (assembled as its templates do: nats-chart.ts), the
// environment the kubelet gives its container from the Secret, and the accounts file where the chart's
// pod mounts it: the same checks as for the conf files, ending with the real server's `nats-server -t`.
describe("the NATS config the chart makes of deploy/k8s/nats-values.yaml", () => {
  const CONFIG_DIR = "/etc/nats-config";
  const config = chartConfig(values);
  const text = formatConfig(config);
  const container = chartContainer(values);
  const secretName = "nats-credentials";
  const example = parseYamlDocuments(readText("deploy/k8s/secret.example.yaml"))
    .map((d) => asMap(d, "secret"))
    .find((d) => at(d, "metadata.name") === secretName);
  const include = /^\s*include (\S+);$/m.exec(text)?.[1];
  const accountsPath = include && posix.join(CONFIG_DIR, include);
  // Variables (not subjects such as "$SYS.REQ…", quoted or in comments): what the server reads from its environment.
  const vars = (source: string) => [
    ...new Set(
      [
        ...source
          .replace(/"[^"\n]*"/g, "")
          .replace(/#.*$/gm, "")
          .matchAll(/\$([A-Z][A-Z0-9_]*)/g),
      ].map((m) => m[1] as string),
    ),
  ];

  it("includes accounts.conf from the ConfigMap made of deploy/nats/accounts.conf itself (and the file it includes)", () => {
    expect(include, "an include directive").toBeDefined();
    const mount = container.volumeMounts.find((m) => accountsPath?.startsWith(`${m.mountPath}/`));
    expect(mount, `a volume mounted where ${accountsPath} is`).toBeDefined();
    const volume = chartVolumes(values).find((v) => v.name === mount?.name);
    const configMapName = at(volume, "configMap.name");
    const configMap = loadK8s().find((o) => o.kind === "ConfigMap" && o.metadata.name === configMapName);
    const key = accountsPath?.slice(String(mount?.mountPath).length + 1) as string;
    const dir = posix.dirname(key);
    const at_ = (f: string) => (dir === "." ? f : `${dir}/${f}`);
    expect(at(configMap, "data")).toEqual(
      Object.fromEntries(INCLUDED.map((f) => [at_(f), readText(`deploy/nats/${f}`)])),
    );
  });

  it("adds no rule of its own: no accounts, users, authorization or no_auth_user outside the file", () => {
    const all = JSON.stringify(values);
    expect(all).not.toMatch(/no_auth_user|accounts\s*[:{]|"users"|auth_callout|system_account/);
    expect(Object.keys(config).filter((k) => /accounts|authorization|users|no_auth/.test(k))).toEqual([]);
  });

  it("authenticates routes with the variables cluster-node.conf uses, and routes carry them", () => {
    const conf = /cluster\s*\{[\s\S]*?authorization\s*\{([^}]*)\}/.exec(readText(CLUSTER_CONF))?.[1] ?? "";
    expect(at(config, "cluster.authorization.user")).toBe(`<< $${/user:\s*\$(\w+)/.exec(conf)?.[1]} >>`);
    expect(at(config, "cluster.authorization.password")).toBe(`<< $${/password:\s*\$(\w+)/.exec(conf)?.[1]} >>`);
    expect(at(config, "cluster.routes")).toBe(`<< $${/routes:\s*\$(\w+)/.exec(readText(CLUSTER_CONF))?.[1]} >>`);
    const credentials = generateCredentials();
    const env = kubeletEnv(container.env, { [secretName]: serverEnv(credentials) }, "nats-0");
    const name = String(values.fullnameOverride);
    const replicas = Number(at(values, "config.cluster.replicas"));
    expect(JSON.parse(env.NATS_ROUTES as string)).toEqual(
      Array.from({ length: replicas }, (_, i) =>
        routeUrl(credentials, `${name}-${i}.${name}-headless:${at(values, "config.cluster.port")}`),
      ),
    );
  });

  it("gets exactly the public keys and route credentials accounts.conf and the routes read, from the Secret", () => {
    const read = vars(`${text}\n${included()}`).sort();
    const defined = container.env.map((v: EnvVar) => v.name);
    expect(defined).toEqual(expect.arrayContaining(read));
    const fromSecret = container.env.filter((v) => v.valueFrom?.secretKeyRef);
    for (const v of fromSecret) expect(at(v.valueFrom, "secretKeyRef")).toEqual({ name: secretName, key: v.name });
    // What `conclave credentials init` writes to nats.env, the Secret documented, and the values all agree.
    const keys = Object.keys(serverEnv(generateCredentials())).sort();
    expect(fromSecret.map((v) => v.name).sort()).toEqual(keys);
    expect(Object.keys(asMap(example?.stringData, "stringData")).sort()).toEqual(keys);
    expect(keys.filter((k) => k.startsWith("NATS_NKEY_") || k === "NATS_CALLOUT_ISSUER")).toEqual(
      vars(included()).sort(),
    );
  });

  it("defines each variable before an entry that expands it (the kubelet expands only earlier ones)", () => {
    const seen = new Set<string>();
    for (const v of container.env) {
      for (const m of (v.value ?? "").matchAll(/\$\(([A-Za-z0-9_]+)\)/g)) expect(seen, `${v.name}`).toContain(m[1]);
      seen.add(v.name);
    }
  });

  /** nats.conf and accounts.conf laid out as the pod mounts them, under a temporary root. */
  function layOut(withAccounts: boolean): string {
    const dir = mkdtempSync(join(tmpdir(), "conclave-chart-"));
    mkdirSync(join(dir, CONFIG_DIR), { recursive: true });
    writeFileSync(join(dir, CONFIG_DIR, "nats.conf"), text);
    if (withAccounts) {
      mkdirSync(join(dir, posix.dirname(accountsPath as string)), { recursive: true });
      for (const f of INCLUDED) {
        copyFileSync(join(root, "deploy/nats", f), join(dir, posix.dirname(accountsPath as string), f));
      }
    }
    return join(dir, CONFIG_DIR, "nats.conf");
  }
  const serverTest = (file: string, env: Record<string, string>) =>
    spawnSync(bin, ["-c", file, "-t"], {
      env: { PATH: process.env.PATH ?? "", ...env },
      encoding: "utf8",
      timeout: 15_000,
    });
  const podEnv = (secret: Record<string, string> = serverEnv(generateCredentials())) =>
    kubeletEnv(container.env, { [secretName]: secret }, "nats-0");

  it("passes nats-server -t with the environment the pod gets", () => {
    const r = serverTest(layOut(true), podEnv());
    expect(r.status, `${text}\n${r.stdout}${r.stderr}`).toBe(0);
  });

  it("fails without the accounts file, or without a public key it reads (the check is real)", () => {
    expect(serverTest(layOut(false), podEnv()).status).not.toBe(0);
    const { NATS_NKEY_ACCESS: _, ...rest } = podEnv();
    const r = serverTest(layOut(true), rest);
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toMatch(/NATS_NKEY_ACCESS/);
    const { NATS_ROUTE_PASSWORD: _p, ...secret } = serverEnv(generateCredentials());
    expect(() => podEnv(secret)).toThrow(/NATS_ROUTE_PASSWORD/);
  });
});
