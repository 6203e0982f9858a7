import { serviceEnvSchema } from "@conclave/runtime";
import { describe, expect, it } from "vitest";
import {
  asList,
  asMap,
  at,
  type K8sObject,
  loadK8s,
  nginxLocationFor,
  nginxLocations,
  nginxRegex,
  nginxSize,
  readText,
} from "./deploy-files.ts";
import { SPEC_ROUTES, samplePath, UNROUTED_PATHS } from "./spec-routes.ts";

// Routing by path prefix, for docker-compose (deploy/lb/nginx.conf) and for
// Kubernetes (deploy/k8s/ingress.yaml), both checked against the route table in spec-routes.ts.
const config = readText("deploy/lb/nginx.conf");
const locations = nginxLocations(config);
const proxied = locations.filter((l) => l.upstream !== undefined);
const specPaths = SPEC_ROUTES.map((r) => ({ ...r, path: samplePath(r.pattern) }));
const defaults = serviceEnvSchema.parse({ CONCLAVE_NATS_URLS: "nats://x:4222" });

/** `^/v1/users(?:/|$)` → `/v1/users`: the prefix, in whole path segments. */
function nginxPrefix(match: string): string {
  const m = /^\^(.+)\(\?:\/\|\$\)$/.exec(match);
  if (!m) throw new Error(`location ${match} is not a whole-segment prefix ^<prefix>(?:/|$)`);
  return (m[1] as string).replaceAll("\\.", ".");
}

const ingresses = loadK8s().filter((o) => o.kind === "Ingress");
const ingressPaths = ingresses.flatMap((ingress) =>
  asList(at(ingress, "spec.rules"), "rules").flatMap((rule) =>
    asList(at(rule, "http.paths"), "paths").map((p) => ({
      ingress,
      path: String(at(p, "path")),
      pathType: String(at(p, "pathType")),
      service: String(at(p, "backend.service.name")),
      port: at(p, "backend.service.port"),
    })),
  ),
);
/** Kubernetes `Prefix`: whole path elements, longest path wins. */
function ingressFor(path: string) {
  return ingressPaths
    .filter((p) => path === p.path || path.startsWith(`${p.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];
}
const annotation = (ingress: K8sObject, name: string) =>
  String(asMap(ingress.metadata.annotations, "annotations")[`nginx.ingress.kubernetes.io/${name}`]);

describe("load balancer routes (deploy/lb/nginx.conf)", () => {
  it.each(specPaths)("$method $pattern goes to $service", ({ path, service }) => {
    expect(nginxLocationFor(locations, path)?.upstream).toBe(service);
  });

  it.each(UNROUTED_PATHS)("%s reaches no service", (path) => {
    expect(nginxLocationFor(locations, path)?.upstream).toBeUndefined();
  });

  it("routes only prefixes that lead to a route of the spec", () => {
    for (const location of proxied) {
      const served = specPaths.filter((r) => nginxRegex(location).test(r.path));
      expect(served.length, `${location.match} serves no product route`).toBeGreaterThan(0);
      expect(new Set(served.map((r) => r.service)), location.match).toEqual(new Set([location.upstream]));
    }
  });

  it("passes the request URI unchanged (signatures cover @path and @query)", () => {
    for (const location of proxied) expect(location.proxyPassUri, location.match).toBe("");
    expect(config).not.toMatch(/^\s*rewrite\s/m);
  });

  it("streams blob bodies, with a ceiling above the service's, and keeps JSON bodies above theirs", () => {
    const blob = proxied.find((l) => l.upstream === "blob");
    expect(blob?.body).toMatch(/proxy_request_buffering\s+off;/);
    const blobCeiling = /client_max_body_size\s+(\S+);/.exec(blob?.body ?? "")?.[1] as string;
    expect(nginxSize(blobCeiling)).toBeGreaterThan(defaults.CONCLAVE_BLOB_BODY_BYTES);
    const serverCeiling = /^\s{4}client_max_body_size\s+(\S+);/m.exec(config)?.[1] as string;
    expect(nginxSize(serverCeiling)).toBeGreaterThan(defaults.CONCLAVE_JSON_BODY_BYTES);
    expect(nginxSize(serverCeiling)).toBeLessThan(defaults.CONCLAVE_BLOB_BODY_BYTES);
  });
});

describe("Ingress routes (deploy/k8s/ingress.yaml)", () => {
  it("uses whole-segment prefixes", () => {
    for (const p of ingressPaths) expect(p.pathType, p.path).toBe("Prefix");
  });

  it.each(specPaths)("$method $pattern goes to $service", ({ path, service }) => {
    expect(ingressFor(path)?.service).toBe(service);
  });

  it.each(UNROUTED_PATHS)("%s reaches no service", (path) => {
    expect(ingressFor(path)).toBeUndefined();
  });

  it("routes only prefixes that lead to a route of the spec", () => {
    for (const p of ingressPaths) {
      const served = specPaths.filter((r) => ingressFor(r.path) === p);
      expect(served.length, `${p.path} serves no product route`).toBeGreaterThan(0);
    }
  });

  it("has the same prefixes, to the same services, as the docker-compose load balancer", () => {
    const fromNginx = proxied.map((l) => `${nginxPrefix(l.match)} → ${l.upstream}`).sort();
    const fromIngress = ingressPaths.map((p) => `${p.path} → ${p.service}`).sort();
    expect(fromIngress).toEqual(fromNginx);
  });

  it("sends blobs through an Ingress that streams, with a ceiling above the service's", () => {
    const blobs = ingressPaths.filter((p) => p.service === "blob").map((p) => p.ingress);
    const others = ingressPaths.filter((p) => p.service !== "blob").map((p) => p.ingress);
    for (const ingress of new Set(blobs)) {
      expect(others).not.toContain(ingress);
      expect(annotation(ingress, "proxy-request-buffering")).toBe("off");
      expect(nginxSize(annotation(ingress, "proxy-body-size"))).toBeGreaterThan(defaults.CONCLAVE_BLOB_BODY_BYTES);
    }
    for (const ingress of new Set(others)) {
      expect(nginxSize(annotation(ingress, "proxy-body-size"))).toBeGreaterThan(defaults.CONCLAVE_JSON_BODY_BYTES);
    }
  });

  it("targets Services that exist, on their http port", () => {
    const services = new Map(
      loadK8s()
        .filter((o) => o.kind === "Service")
        .map((s) => [s.metadata.name, s]),
    );
    for (const p of ingressPaths) {
      const service = services.get(p.service);
      expect(service, p.service).toBeDefined();
      const portNames = asList(at(service, "spec.ports"), "ports").map((port) => at(port, "name"));
      expect(portNames).toContain(at(p.port, "name"));
    }
  });
});
