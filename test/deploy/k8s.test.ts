import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAccessConfig } from "@conclave/access";
import { loadServiceEnv, natsAuthenticator, serviceEnvSchema } from "@conclave/runtime";
import { generateCredentials } from "@conclave/testkit";
import { describe, expect, it } from "vitest";
import {
  asList,
  asMap,
  at,
  type K8sObject,
  loadK8s,
  onPath,
  parseYaml,
  parseYamlDocuments,
  readText,
  root,
  type YamlMap,
  type YamlValue,
} from "./deploy-files.ts";

// deploy/k8s, checked without a cluster (none on the development machines):
// structure, probes, disruption budgets and config here; `kubectl kustomize`
// rendering where kubectl exists. Not checked: schema validation against an
// API server (`kubectl apply --dry-run=server`) and the Helm chart rendering.
const objects = loadK8s();
const SERVICES = ["membership", "blob", "gateway", "access"] as const;
/** Behind the Ingress; access has no Service (nothing routes to it: it only connects out to NATS). */
const ROUTED: readonly string[] = ["membership", "blob", "gateway"];
/** The Secrets secret.example.yaml documents (none of them applied), by name. */
const exampleSecrets = new Map(
  parseYamlDocuments(readText("deploy/k8s/secret.example.yaml")).map((doc) => {
    const secret = asMap(doc, "secret.example");
    return [String(at(secret, "metadata.name")), asMap(secret.stringData, "stringData")] as const;
  }),
);
/** Each service's seed files: variable → what the file must hold (a user seed of a role, the issuer's, the system user's). */
const SEED_FILES: Record<(typeof SERVICES)[number], Record<string, string>> = {
  membership: { CONCLAVE_NATS_SEED_FILE: "membership" },
  blob: { CONCLAVE_NATS_SEED_FILE: "blob" },
  gateway: { CONCLAVE_NATS_SEED_FILE: "gateway" },
  access: {
    CONCLAVE_NATS_SEED_FILE: "access",
    CONCLAVE_ACCESS_ISSUER_SEED_FILE: "issuer",
    CONCLAVE_NATS_SYSTEM_SEED_FILE: "system",
  },
};
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => byKind(kind).find((o) => o.metadata.name === name);
const configMap = named("ConfigMap", "conclave-env") as K8sObject;
const configEnv = Object.fromEntries(Object.entries(asMap(configMap.data, "data")).map(([k, v]) => [k, String(v)]));
/** Whether a label selector's matchLabels all hold on these labels. */
const selects = (selector: YamlValue, labels: YamlValue) =>
  Object.entries(asMap(at(selector, "matchLabels"), "matchLabels")).every(([k, v]) => asMap(labels, "labels")[k] === v);

describe("deploy/k8s manifests", () => {
  it("parse, and every object has apiVersion, kind and name, in the kustomization's namespace", () => {
    expect(objects.length).toBeGreaterThan(0);
    const kustomization = asMap(parseYaml(readText("deploy/k8s/kustomization.yaml")), "kustomization");
    for (const o of objects) {
      expect(typeof o.apiVersion, o.kind).toBe("string");
      expect(typeof o.metadata.name, o.kind).toBe("string");
      if (o.kind !== "Namespace") expect([undefined, kustomization.namespace]).toContain(o.metadata.namespace);
    }
    expect(named("Namespace", String(kustomization.namespace))).toBeDefined();
  });

  it("keep the Secrets out of the applied set (re-applying one would overwrite the real keys)", () => {
    expect(byKind("Secret")).toEqual([]);
    expect([...exampleSecrets.keys()][0]).toBe("conclave-gateway");
    const gateway = named("Deployment", "gateway");
    const refs = asList(at(gateway, "spec.template.spec.containers"), "containers").flatMap((c) =>
      asList(asMap(c, "container").envFrom ?? [], "envFrom"),
    );
    expect(refs.map((r) => asMap(r, "envFrom").secretRef).filter(Boolean)).toEqual([{ name: "conclave-gateway" }]);
  });

  it("run every service, the auth callout included", () => {
    expect(byKind("Deployment").map((d) => d.metadata.name)).toEqual(expect.arrayContaining([...SERVICES]));
  });

  it("hold no seed in the ConfigMap every service reads", () => {
    expect(Object.keys(configEnv).filter((k) => /SEED/.test(k))).toEqual([]);
  });

  it("configure the services with values their config validation accepts", () => {
    const env = loadServiceEnv(configEnv);
    expect(env.CONCLAVE_HOST).toBe("0.0.0.0");
    expect(env.CONCLAVE_REPLICAS).toBe(3);
    expect(env.CONCLAVE_NATS_URLS).toHaveLength(3);
    const known = new Set(Object.keys(serviceEnvSchema.shape));
    expect(Object.keys(configEnv).filter((k) => !known.has(k))).toEqual([]);
  });

  // A missing Deployment fails the test above; its checks are then left out, not crashed.
  describe.each(SERVICES.filter((s) => named("Deployment", s)))("%s", (name) => {
    const deployment = named("Deployment", name) as K8sObject;
    const pod = asMap(at(deployment, "spec.template"), "template");
    const podLabels = at(pod, "metadata.labels");
    const containers = asList(at(pod, "spec.containers"), "containers").map((c) => asMap(c, "container"));
    const container = containers[0] as YamlMap;
    const httpPort = asList(container.ports, "ports")
      .map((p) => asMap(p, "port"))
      .find((p) => p.name === "http");

    it("is a Deployment of at least two replicas whose selector matches its pods", () => {
      expect(deployment).toBeDefined();
      expect(Number(at(deployment, "spec.replicas"))).toBeGreaterThanOrEqual(2);
      expect(selects(at(deployment, "spec.selector"), podLabels)).toBe(true);
      // NetworkPolicy admits part-of=conclave pods to NATS.
      expect(asMap(podLabels, "labels")["app.kubernetes.io/part-of"]).toBe("conclave");
    });

    it("runs the service image with its bundle, on CONCLAVE_PORT", () => {
      expect(containers).toHaveLength(1);
      expect(container.image).toBe("conclave-server");
      expect(container.args).toEqual([`dist/${name}.mjs`]);
      expect(String(httpPort?.containerPort)).toBe(configEnv.CONCLAVE_PORT);
      expect(asList(container.envFrom, "envFrom")).toContainEqual({ configMapRef: { name: "conclave-env" } });
    });

    it("gets its own seeds from its own Secret, as files the config loaders read", () => {
      const podSpec = asMap(at(pod, "spec"), "spec");
      const volumes = new Map(
        asList(podSpec.volumes, "volumes").map((v) => [String(asMap(v, "volume").name), asMap(v, "volume")] as const),
      );
      const env = new Map(asList(container.env, "env").map((e) => [String(at(e, "name")), asMap(e, "env")] as const));
      // Never a seed inline, nor another service's Secret (only the gateway also has its signing key).
      expect([...env.keys()].filter((k) => /SEED$/.test(k))).toEqual([]);
      const secretsUsed = [
        ...[...volumes.values()].filter((v) => v.secret).map((v) => String(at(v, "secret.secretName"))),
        ...asList(container.envFrom, "envFrom").flatMap((r) => {
          const ref = asMap(r, "envFrom").secretRef;
          return ref ? [String(at(ref, "name"))] : [];
        }),
      ];
      expect(secretsUsed.sort()).toEqual(
        [`conclave-nats-${name}`, ...(name === "gateway" ? ["conclave-gateway"] : [])].sort(),
      );
      // Each variable names a key of that Secret under its mount; materialise the mount with real seeds.
      const credentials = generateCredentials();
      const seedOf = (what: string) =>
        what === "issuer"
          ? credentials.issuer
          : what === "system"
            ? credentials.system
            : credentials.seeds[what as "gateway"];
      const mounted = mkdtempSync(join(tmpdir(), `conclave-k8s-${name}-`));
      const localEnv: Record<string, string> = { ...configEnv };
      const fileVars = [...env.keys()].filter((k) => k.endsWith("_FILE"));
      expect(fileVars.sort()).toEqual(Object.keys(SEED_FILES[name]).sort());
      for (const [variable, what] of Object.entries(SEED_FILES[name])) {
        const path = String(env.get(variable)?.value);
        const mount = asList(container.volumeMounts, "volumeMounts")
          .map((m) => asMap(m, "volumeMount"))
          .find((m) => path.startsWith(`${m.mountPath}/`));
        expect(mount, `${variable}: ${path} is under a mount`).toBeDefined();
        expect(mount?.readOnly).toBe(true);
        const volume = volumes.get(String(mount?.name));
        const secretName = String(at(volume, "secret.secretName"));
        const key = path.slice(String(mount?.mountPath).length + 1);
        const example = exampleSecrets.get(secretName);
        expect(example, `secret.example.yaml documents ${secretName}`).toBeDefined();
        expect(Object.keys(example ?? {}), `${secretName} has the key ${key}`).toContain(key);
        expect(String(example?.[key]), `${secretName}.${key} is from ${what}.nk`).toContain(`${what}.nk`);
        // Readable by the service's user: group-readable with the pod's fsGroup, as mounted.
        expect(Number(at(volume, "secret.defaultMode")) & 0o040).toBe(0o040);
        expect(at(pod, "spec.securityContext.fsGroup")).toBe(at(pod, "spec.securityContext.runAsGroup"));
        const local = join(mounted, secretName, key);
        mkdirSync(join(mounted, secretName), { recursive: true });
        writeFileSync(local, `${seedOf(what)}\n`);
        localEnv[variable] = local;
      }
      expect(natsAuthenticator(loadServiceEnv(localEnv))).toBeTypeOf("function");
      if (name === "access") {
        const access = loadAccessConfig(localEnv);
        expect(access.issuerSeed).toBe(credentials.issuer);
        expect(access.liveDisconnect?.systemSeed).toBe(credentials.system);
      }
    });

    it("has readiness on /readyz and liveness on /healthz (NATS trouble unreadies, never restarts)", () => {
      expect(at(container, "readinessProbe.httpGet.path")).toBe("/readyz");
      expect(at(container, "readinessProbe.httpGet.port")).toBe("http");
      expect(at(container, "livenessProbe.httpGet.path")).toBe("/healthz");
      expect(at(container, "livenessProbe.httpGet.port")).toBe("http");
      expect(at(container, "startupProbe.httpGet.path")).toBe("/healthz");
      // The readiness check itself waits up to the op timeout (2 s) before it says no.
      expect(Number(at(container, "readinessProbe.timeoutSeconds")) * 1000).toBeGreaterThan(
        Number(configEnv.CONCLAVE_OP_TIMEOUT_MS),
      );
    });

    it("stops gracefully: preStop, then the 10 s drain, within the grace period", () => {
      const preStop = asList(at(container, "lifecycle.preStop.exec.command"), "preStop").map(String);
      expect(preStop[0]).toBe("sleep");
      const grace = Number(at(pod, "spec.terminationGracePeriodSeconds"));
      expect(grace).toBeGreaterThan(Number(preStop[1]) + 10);
    });

    it("has resource requests and limits", () => {
      for (const path of ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"]) {
        expect(at(container.resources, path), path).toBeTruthy();
      }
    });

    it("runs as a non-root user without privileges", () => {
      expect(at(pod, "spec.securityContext.runAsNonRoot")).toBe(true);
      expect(Number(at(pod, "spec.securityContext.runAsUser"))).toBeGreaterThan(0);
      expect(at(container, "securityContext.allowPrivilegeEscalation")).toBe(false);
      expect(at(container, "securityContext.readOnlyRootFilesystem")).toBe(true);
      expect(at(container, "securityContext.capabilities.drop")).toEqual(["ALL"]);
    });

    it("has a PodDisruptionBudget over its pods that keeps one running", () => {
      const pdbs = byKind("PodDisruptionBudget").filter((p) => selects(at(p, "spec.selector"), podLabels));
      expect(pdbs).toHaveLength(1);
      const spec = asMap((pdbs[0] as K8sObject).spec, "spec");
      const replicas = Number(at(deployment, "spec.replicas"));
      const keeps =
        spec.minAvailable !== undefined ? Number(spec.minAvailable) : replicas - Number(spec.maxUnavailable);
      expect(keeps).toBeGreaterThanOrEqual(1);
      expect(keeps).toBeLessThan(replicas);
    });

    it.skipIf(!ROUTED.includes(name))("has a Service selecting its pods on the http port", () => {
      const service = named("Service", name) as K8sObject;
      expect(at(service, "spec.selector")).toEqual(at(deployment, "spec.selector.matchLabels"));
      expect(asList(at(service, "spec.ports"), "ports").map((p) => at(p, "targetPort"))).toContain("http");
    });
  });

  it("lets every client reach NATS's client port (NATS authenticates them), only NATS servers its routes", () => {
    const policy = named("NetworkPolicy", "nats-clients") as K8sObject;
    const natsPort = Number(configEnv.CONCLAVE_NATS_URLS?.split(",")[0]?.split(":")[2]);
    const servers = asMap(at(policy, "spec.podSelector.matchLabels"), "podSelector");
    const rules = asList(at(policy, "spec.ingress"), "ingress").map((r) => asMap(r, "rule"));
    const ports = (r: YamlMap) => asList(r.ports, "ports").map((p) => Number(at(p, "port")));
    const fromAnywhere = rules.filter((r) => r.from === undefined).flatMap(ports);
    // Bots in any namespace or behind a LoadBalancer: room channels need the client port.
    expect(fromAnywhere).toContain(natsPort);
    // Monitoring stays readable (the chart's probes, the exporter).
    expect(fromAnywhere).toEqual(expect.arrayContaining([8222, 7777]));
    // Routes: never from anywhere, and only from the server pods themselves (not nats-box).
    expect(fromAnywhere).not.toContain(6222);
    const routeRules = rules.filter((r) => ports(r).includes(6222));
    expect(routeRules.length).toBeGreaterThan(0);
    for (const r of routeRules) {
      for (const f of asList(r.from, "from")) expect(at(f, "podSelector.matchLabels")).toEqual(servers);
    }
    expect(servers["app.kubernetes.io/component"]).toBe("nats");
  });
});

const kubectl = onPath("kubectl");

describe.skipIf(!kubectl)("kubectl kustomize deploy/k8s (SKIPPED where kubectl is missing)", () => {
  it("renders every object into the conclave namespace with the image set in kustomization.yaml", () => {
    const r = spawnSync(kubectl as string, ["kustomize", "deploy/k8s"], {
      cwd: root,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const rendered = parseYamlDocuments(r.stdout).map((d) => asMap(d, "rendered") as K8sObject);
    expect(rendered.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(),
    );
    for (const o of rendered) if (o.kind !== "Namespace") expect(o.metadata.namespace).toBe("conclave");
    for (const d of rendered.filter((o) => o.kind === "Deployment")) {
      expect(String(at(asList(at(d, "spec.template.spec.containers"), "c")[0], "image"))).toBe("conclave-server:0.1.0");
    }
    expect(rendered.filter((o) => o.kind === "Deployment").map((o) => o.metadata.name)).toContain("access");
  });

  it("renders deploy/nats/accounts.conf and rpc-handlers.conf, byte for byte, as the ConfigMap the NATS chart mounts", () => {
    for (const dir of ["deploy/k8s", "deploy/nats"]) {
      const r = spawnSync(kubectl as string, ["kustomize", dir], { cwd: root, encoding: "utf8", timeout: 60_000 });
      expect(r.status, r.stderr).toBe(0);
      const accounts = parseYamlDocuments(r.stdout)
        .map((d) => asMap(d, "rendered") as K8sObject)
        .filter((o) => o.kind === "ConfigMap" && o.metadata.name === "nats-accounts");
      expect(accounts, dir).toHaveLength(1);
      expect(at(accounts[0], "data")).toEqual({
        "accounts.conf": readText("deploy/nats/accounts.conf"),
        "rpc-handlers.conf": readText("deploy/nats/rpc-handlers.conf"),
      });
    }
  });
});
