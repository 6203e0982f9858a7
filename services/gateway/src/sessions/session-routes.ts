import { ApiError, sessionRequest, tokenId } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { callerOf } from "../access/gateway-gate.ts";
import type { SessionIssuer } from "./session-issuer.ts";
import type { TokenKeys } from "./token-keys.ts";
import { type RevocationDeps, revokeToken } from "./token-revocation.ts";

const jtiParams = z.object({ jti: tokenId }).strict();
const revokeBody = z
  .object({ reason: z.string().max(256).optional() })
  .strict()
  .optional();

/** `POST /v1/sessions` (signed only: a token cannot mint tokens) and `POST /v1/tokens/{jti}/revoke`. */
export function registerSessionRoutes(
  scope: FastifyInstance,
  deps: { issuer: SessionIssuer; revocation: RevocationDeps },
): void {
  scope.post("/v1/sessions", { config: { body: "json", auth: "signed" } }, async (request, reply) => {
    const caller = callerOf(request);
    if (caller.credential !== "signed") throw new ApiError("unauthorized", "sessions are opened by signed requests");
    const body = sessionRequest.parse(request.body ?? {});
    return reply.code(201).send(await deps.issuer.issue(caller, body));
  });

  scope.post("/v1/tokens/:jti/revoke", { config: { body: "json", auth: "signed-or-bearer" } }, async (request) => {
    const caller = callerOf(request);
    const { jti } = jtiParams.parse(request.params);
    const body = revokeBody.parse(request.body ?? undefined);
    return revokeToken(deps.revocation, caller, jti, body?.reason);
  });
}

/** `GET /.well-known/jwks.json`: public, unauthenticated, cacheable for a while. */
export function registerJwksRoute(app: FastifyInstance, keys: TokenKeys): void {
  app.get("/.well-known/jwks.json", { config: { body: "none", auth: "none" } }, async (_request, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return keys.jwks();
  });
}
