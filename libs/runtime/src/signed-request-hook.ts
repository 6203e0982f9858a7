import { type Authenticated, type AuthenticatorDeps, authenticate, type Principal } from "@conclave/auth";
import { rawJsonBody } from "@conclave/http";
import { ApiError } from "@conclave/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";

export type AuthMode = "off" | "soft" | "enforce";
export type RouteAuth = "signed" | "signed-or-bearer" | "none";

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
  }
  interface FastifyContextConfig {
    /**
     * "signed": the route requires an RFC 9421 signed request. There is no default:
     * a route whose config names no auth is not authenticated, so every /v1 route names one.
     * "signed-or-bearer": a signed request, or a bearer token the route verifies
     * itself (gateway sessions); the signature check is skipped only when the
     * request carries a bearer token and no signature headers at all.
     */
    auth?: RouteAuth;
  }
}

function received(request: FastifyRequest) {
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
  };
}

/**
 * Authenticates every route whose config says `auth: "signed"`, after the body
 * is parsed (the digest covers it) and before the handler. Modes: `enforce`
 * denies; `soft` logs the denial and lets the request through without a
 * principal (routes that need one still answer 401); `off` skips the check.
 */
export function registerSignedRequestAuth(
  app: FastifyInstance,
  deps: AuthenticatorDeps,
  mode: AuthMode,
  onOutcome?: (outcome: string) => void,
): void {
  app.addHook("preHandler", async (request, reply) => {
    const auth = request.routeOptions.config.auth;
    if (mode === "off" || (auth !== "signed" && auth !== "signed-or-bearer")) return;
    if (auth === "signed-or-bearer" && isBearerOnly(request)) return;
    let result: Authenticated;
    try {
      result = await authenticate(received(request), deps);
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
