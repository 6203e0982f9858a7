import { spawnSync } from "node:child_process";
import { loadServiceEnv, serviceEnvSchema } from "@conclave/runtime";
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
const SERVICES = ["membership", "blob", "gateway"] as const;
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

  it("keep the Secret out of the applied set (re-applying it would overwrite the real key)", () => {
    expect(byKind("Secret")).toEqual([]);
    const example = asMap(parseYamlDocuments(readText("deploy/k8s/secret.example.yaml"))[0], "secret.example");
    const gateway = named("Deployment", "gateway");
    const refs = asList(at(gateway, "spec.template.spec.containers"), "containers").flatMap((c) =>
      asList(asMap(c, "container").envFrom ?? [], "envFrom"),
    );
    expect(refs.map((r) => asMap(r, "envFrom").secretRef).filter(Boolean)).toContainEqual({
      name: asMap(example.metadata, "metadata").name,
    });
  });

  it("configure the services with values their config validation accepts", () => {
    const env = loadServiceEnv(configEnv);
    expect(env.CONCLAVE_HOST).toBe("0.0.0.0");
    expect(env.CONCLAVE_REPLICAS).toBe(3);
    expect(env.CONCLAVE_NATS_URLS).toHaveLength(3);
    const known = new Set(Object.keys(serviceEnvSchema.shape));
    expect(Object.keys(configEnv).filter((k) => !known.has(k))).toEqual([]);
  });

  describe.each(SERVICES)("%s", (name) => {
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

    it("has a Service selecting its pods on the http port", () => {
      const service = named("Service", name) as K8sObject;
      expect(at(service, "spec.selector")).toEqual(at(deployment, "spec.selector.matchLabels"));
      expect(asList(at(service, "spec.ports"), "ports").map((p) => at(p, "targetPort"))).toContain("http");
    });
  });

  it("admits the services to NATS's client port and nothing else of theirs", () => {
    const policy = named("NetworkPolicy", "nats-clients") as K8sObject;
    const natsPort = Number(configEnv.CONCLAVE_NATS_URLS?.split(",")[0]?.split(":")[2]);
    const rules = asList(at(policy, "spec.ingress"), "ingress").map((r) => asMap(r, "rule"));
    const fromConclave = rules.filter((r) =>
      asList(r.from ?? [], "from").some((f) =>
        selects(at(f, "podSelector"), { "app.kubernetes.io/part-of": "conclave" }),
      ),
    );
    expect(fromConclave.flatMap((r) => asList(r.ports, "ports").map((p) => at(p, "port")))).toEqual([natsPort]);
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
  });
});
