// The product's route table (documented in docs/auth.md, rooms.md, blobs.md, gateway.md), copied by hand on purpose: the load balancer and the
// Ingress are checked against the spec, not against whatever the services
// happen to register. A route added to the spec must be added here.

export type ServiceName = "membership" | "blob" | "gateway";

export interface SpecRoute {
  service: ServiceName;
  method: string;
  pattern: string;
}

const route = (service: ServiceName, method: string, pattern: string): SpecRoute => ({ service, method, pattern });

export const SPEC_ROUTES: readonly SpecRoute[] = [
  route("membership", "POST", "/v1/users"),
  route("membership", "GET", "/v1/users"),
  route("membership", "GET", "/v1/users/{sign_pub}"),
  route("membership", "POST", "/v1/users/{sign_pub}/revoke"),
  route("membership", "POST", "/v1/rooms"),
  route("membership", "GET", "/v1/rooms/{id}"),
  route("membership", "GET", "/v1/rooms/{id}/members"),
  route("membership", "POST", "/v1/rooms/{id}/members"),
  route("membership", "DELETE", "/v1/rooms/{id}/members/{member}"),
  route("membership", "POST", "/v1/rooms/{id}/keys"),
  route("membership", "GET", "/v1/rooms/{id}/key"),
  route("membership", "GET", "/v1/me/rooms"),
  route("blob", "PUT", "/v1/blobs/{sha256}"),
  route("blob", "GET", "/v1/blobs/{sha256}"),
  route("blob", "HEAD", "/v1/blobs/{sha256}"),
  route("gateway", "POST", "/v1/sessions"),
  route("gateway", "POST", "/v1/tokens/{jti}/revoke"),
  route("gateway", "GET", "/.well-known/jwks.json"),
  route("gateway", "POST", "/v1/rpc"),
  route("gateway", "GET", "/v1/budget"),
  route("gateway", "PUT", "/v1/tenants/{tenant}/budget"),
  route("gateway", "GET", "/v1/audit"),
];

/** Served by every replica, unauthenticated: watchViolations and scraped per replica, never routed publicly. */
const PROBE_ROUTES = ["/healthz", "/readyz", "/metrics"] as const;

const SAMPLES: Record<string, string> = {
  sign_pub: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
  member: "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  id: "room-1",
  sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  jti: "0b6c1f52-2c57-4e0a-9a53-5e1f6f9c1d2e",
  tenant: "acme",
};

/** A concrete path for a route pattern, every `{param}` replaced by a sample value. */
export function samplePath(pattern: string): string {
  return pattern.replace(/\{([a-z0-9_]+)\}/g, (_, name: string) => {
    const sample = SAMPLES[name];
    if (!sample) throw new Error(`no sample value for {${name}}`);
    return sample;
  });
}

/** Paths that must not reach any service through the public edge (near-misses of real prefixes included). */
export const UNROUTED_PATHS = [
  ...PROBE_ROUTES,
  "/",
  "/v1",
  "/v1/",
  "/v1/usersx",
  "/v1/blobsx/abc",
  "/v1/rpcx",
  "/v1/meta",
  "/v2/users",
  "/well-known/jwks.json",
] as const;
