import { ApiError, newUser, publicKey32, scope, tenantId, type UserRecord } from "@conclave/protocol";
import { prefetched, principalOf, type RouteReads } from "@conclave/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { pageQuery } from "../paging.ts";
import type { UserCommands } from "./user-commands.ts";
import { managesTenant, mayReadUser } from "./user-decider.ts";

/** Scopes a user gets when none are given: everything but administration. */
export const DEFAULT_MEMBER_SCOPES = ["rooms:read", "rooms:write", "blobs:read", "blobs:write", "rpc:call"];

const addUserBody = newUser.extend({ scopes: z.array(scope).max(32).optional() }).strict();
// Shape only: a user registered before weak keys were refused must stay readable and revocable.
const signPubParams = z.object({ sign_pub: publicKey32 }).strict();
const listQuery = pageQuery.extend({ tenant: tenantId.optional() }).strict();
const revokeBody = z
  .object({ reason: z.string().max(256).optional() })
  .strict()
  .optional();

/** Users routes (docs/auth.md): operators everywhere, admins within their tenant; a user may read itself. */
export function registerUserRoutes(app: FastifyInstance, users: UserCommands): void {
  // Goes out with the allowlist read; a user reading itself gets the entry that read already returned.
  const readUser: RouteReads<UserRecord | undefined> = async (request, { keyid, principal }) => {
    const params = signPubParams.safeParse(request.params);
    if (!params.success) return undefined;
    return params.data.sign_pub === keyid ? (await principal)?.record : users.get(params.data.sign_pub);
  };

  app.post("/v1/users", { config: { body: "json", auth: "signed" } }, async (request, reply) => {
    const actor = principalOf(request);
    const body = addUserBody.parse(request.body);
    const user = await users.add(actor, { ...body, scopes: body.scopes ?? DEFAULT_MEMBER_SCOPES });
    return reply.code(201).send(user);
  });

  app.get("/v1/users", { config: { body: "none", auth: "signed" } }, async (request) => {
    const actor = principalOf(request);
    const { tenant, limit, cursor } = listQuery.parse(request.query ?? {});
    if (actor.role === "member") throw new ApiError("forbidden", "only admins list users");
    // Another tenant is no tenant to an admin.
    if (tenant !== undefined && !managesTenant(actor, tenant)) throw new ApiError("not_found", "no such tenant");
    // An admin lists its own tenant; only an operator lists every tenant at once.
    return users.page(actor.role === "operator" ? tenant : actor.tenant, limit, cursor);
  });

  app.get("/v1/users/:sign_pub", { config: { body: "none", auth: "signed", reads: readUser } }, async (request) => {
    const actor = principalOf(request);
    const user = prefetched(request, readUser);
    // readUser found a user only under valid params: they are parsed again (400) only when it found none.
    if (!user) signPubParams.parse(request.params);
    // Whoever may not read a user learns nothing, not even whether it exists.
    if (!user || !mayReadUser(actor, user)) throw new ApiError("not_found", "no such user");
    return user;
  });

  app.post("/v1/users/:sign_pub/revoke", { config: { body: "json", auth: "signed" } }, async (request) => {
    const actor = principalOf(request);
    const { sign_pub } = signPubParams.parse(request.params);
    const body = revokeBody.parse(request.body ?? undefined);
    return users.revoke(actor, sign_pub, body?.reason);
  });
}
