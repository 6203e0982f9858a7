import {
  type Authenticated,
  type AuthenticatorDeps,
  authenticate,
  type Principal,
  type Settled,
  type SignerReads,
} from "@conclave/auth";
import { HEALTH_ROUTES, rawJsonBody } from "@conclave/http";
import { ApiError } from "@conclave/protocol";
import { withinDecisionDeadline } from "@conclave/store";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export type AuthMode = "off" | "soft" | "enforce";
export type RouteAuth = "signed" | "signed-or-bearer" | "none";

/**
 * A signed route's reads, issued by the signed-request hook together with the
 * allowlist read and settled before the nonce claim, which witnesses them
 * (authenticate.ts). The route takes the result with `prefetched`.
 */
export type RouteReads<T> = (request: FastifyRequest, signer: SignerReads) => Promise<T>;

/** True when the request presents `Authorization: Bearer …` and no RFC 9421 signature headers. */
export function isBearerOnly(request: FastifyRequest): boolean {
  const { authorization } = request.headers;
  if (typeof authorization !== "string" || !/^bearer\s/i.test(authorization)) return false;
  return request.headers["signature-input"] === undefined && request.headers.signature === undefined;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The signer, once the signed-request hook admitted the request. */
    principal?: Principal;
    /** The route's reads (config.reads), settled before the nonce claim. */
    routeReads?: Settled<unknown>;
  }
  interface FastifyContextConfig {
    /**
     * "signed" (the default: a route without the setting is signed): the route
     * requires an RFC 9421 signed request. "none" opts out by name (JWKS); the
     * edge's health routes are exempt by name.
     * "signed-or-bearer": a signed request, or a bearer token the route verifies
     * itself (gateway sessions); the signature check is skipped only when the
     * request carries a bearer token and no signature headers at all.
     */
    auth?: RouteAuth;
    /** Reads of a signed route witnessed by the nonce claim (RouteReads); bearer requests never run them. */
    reads?: RouteReads<unknown>;
  }
}

/**
 * The origin clients address (CONCLAVE_PUBLIC_URL): @scheme, @authority and
 * @target-uri are derived from it rather than from the connection, which
 * behind a TLS-terminating proxy is plain http to an internal name.
 */
export interface PublicOrigin {
  scheme: string;
  authority: string;
}

export interface SignedRequestAuthOptions {
  mode: AuthMode;
  onOutcome?: (outcome: string) => void;
  publicOrigin?: PublicOrigin | undefined;
  /** The store's operation timeout: authentication ends within it of the request's arrival (decision deadline). */
  decisionMs?: number;
}

/**
 * Runs the store calls of a request's decision (authentication, the gateway's
 * gate) so that all of them together end within `ms` of the request's
 * arrival: a refusal then comes within the stated bound however many calls
 * it made in sequence (libs/store decision-deadline.ts).
 */
export function decideWithin<T>(reply: FastifyReply, ms: number | undefined, work: () => Promise<T>): Promise<T> {
  return ms === undefined ? work() : withinDecisionDeadline(Date.now() - reply.elapsedTime + ms, work);
}

function received(request: FastifyRequest, origin: PublicOrigin | undefined) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === "string") headers[name] = value;
    else if (Array.isArray(value)) headers[name] = value.join(", ");
  }
  const streamed = request.routeOptions.config.body === "stream";
  return {
    method: request.method,
    url: request.raw.url ?? request.url,
    headers,
    body: streamed ? undefined : rawJsonBody(request),
    streamedBody: streamed && (headers["content-length"] !== "0" || headers["transfer-encoding"] !== undefined),
    // Without a configured origin: what this server was reached by (fastify reads
    // X-Forwarded-Proto / -Host only from a proxy the edge trusts) — docs/auth.md.
    scheme: origin?.scheme ?? request.protocol,
    authority: origin?.authority ?? request.host,
  };
}

/**
 * What a route requires. Fail closed (issue 15, item 10): a route registered
 * without the setting is signed, so forgetting it cannot open a route; only the
 * edge's probes and routes that say `auth: "none"` are open. A request no route
 * matched (404) has nothing to protect.
 */
export function routeAuthOf(request: FastifyRequest): RouteAuth {
  const { url, config } = request.routeOptions;
  if (config.auth !== undefined) return config.auth;
  return url === undefined || HEALTH_ROUTES.has(url) ? "none" : "signed";
}

/**
 * Authenticates every route that is not open (routeAuthOf), after the body
 * is parsed (the digest covers it) and before the handler. Modes: `enforce`
 * denies; `soft` logs the denial and lets the request through without a
 * principal (routes that need one still answer 401); `off` skips the check.
 */
export function registerSignedRequestAuth(
  app: FastifyInstance,
  deps: AuthenticatorDeps,
  { mode, onOutcome, publicOrigin, decisionMs }: SignedRequestAuthOptions,
): void {
  app.addHook("preHandler", async (request, reply) => {
    const auth = routeAuthOf(request);
    if (mode === "off" || auth === "none") return;
    if (auth === "signed-or-bearer" && isBearerOnly(request)) return;
    const routeReads = request.routeOptions.config.reads;
    const reads = routeReads && ((signer: SignerReads) => routeReads(request, signer));
    let result: Authenticated<unknown>;
    try {
      result = await decideWithin(reply, decisionMs, () => authenticate(received(request, publicOrigin), deps, reads));
    } catch (err) {
      const reason = err instanceof ApiError ? (err.reason ?? err.code) : "internal";
      onOutcome?.(reason);
      if (mode === "soft") {
        request.log.warn({ reason }, "signed-request check failed (soft mode: let through)");
        return;
      }
      throw err;
    }
    onOutcome?.("ok");
    request.principal = result.principal;
    if (result.reads) request.routeReads = result.reads;
    request.log = request.log.child({ tenant: result.principal.tenant, subject: result.principal.signPub });
    // fastify logs "request completed" through reply.log: give it the tenant and subject too.
    reply.log = request.log;
  });
}

/** The caller admitted by the signed-request hook; routes that need one answer 401 without it (soft/off modes). */
export function principalOf(request: { principal?: Principal }): Principal {
  if (!request.principal) throw new ApiError("unauthorized", "request authentication failed", { reason: "unsigned" });
  return request.principal;
}

/**
 * What the route's reads (config.reads, the same function) returned before the
 * nonce claim; their failure is thrown here, as the route's own. Only after
 * the caller was admitted: without a principal (soft and off modes) it is 401.
 */
export function prefetched<T>(request: FastifyRequest, reads: RouteReads<T>): T {
  principalOf(request);
  const settled = request.routeReads;
  if (!settled || request.routeOptions.config.reads !== reads) {
    throw new Error(`route ${request.routeOptions.url} takes reads it did not declare in config.reads`);
  }
  if ("error" in settled) throw settled.error;
  return settled.value as T;
}
