import { ApiError, publicKey32, role, scope } from "@conclave/protocol";
import { principalOf } from "@conclave/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { UserCommands } from "./user-commands.ts";
import { mayReadUser } from "./user-decider.ts";
import { userAdded } from "./user-events.ts";

/** Scopes a user gets when none are given: everything but administration. */
export const DEFAULT_MEMBER_SCOPES = ["rooms:read", "rooms:write", "blobs:read", "blobs:write", "rpc:call"];

const addUserBody = userAdded.extend({ scopes: z.array(scope).max(32).optional(), role }).strict();
const signPubParams = z.object({ sign_pub: publicKey32 }).strict();
const revokeBody = z
  .object({ reason: z.string().max(256).optional() })
  .strict()
  .optional();

/** Users routes (docs/auth.md): admin-only, except that a user may read itself. */
export function registerUserRoutes(app: FastifyInstance, users: UserCommands): void {
  app.post("/v1/users", { config: { body: "json", auth: "signed" } }, async (request, reply) => {
    const actor = principalOf(request);
    const body = addUserBody.parse(request.body);
    const user = await users.add(actor, { ...body, scopes: body.scopes ?? DEFAULT_MEMBER_SCOPES });
    return reply.code(201).send(user);
  });

  app.get("/v1/users", { config: { body: "none", auth: "signed" } }, async (request) => {
    const actor = principalOf(request);
    if (actor.role !== "admin") throw new ApiError("forbidden", "only admins list users");
    return { users: await users.list() };
  });

  app.get("/v1/users/:sign_pub", { config: { body: "none", auth: "signed" } }, async (request) => {
    const actor = principalOf(request);
    const { sign_pub } = signPubParams.parse(request.params);
    // Non-admins learn nothing about others, not even whether they exist.
    if (!mayReadUser(actor, sign_pub)) throw new ApiError("not_found", "no such user");
    const user = await users.get(sign_pub);
    if (!user) throw new ApiError("not_found", "no such user");
    return user;
  });

  app.post("/v1/users/:sign_pub/revoke", { config: { body: "json", auth: "signed" } }, async (request) => {
    const actor = principalOf(request);
    const { sign_pub } = signPubParams.parse(request.params);
    const body = revokeBody.parse(request.body ?? undefined);
    return users.revoke(actor, sign_pub, body?.reason);
  });
}
