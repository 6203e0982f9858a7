import { randomBytes } from "node:crypto";
import { readInTenant } from "@conclave/auth";
import { ApiError, createRoomRequest, inviteRequest, publicKey32, rekeyRequest, roomId } from "@conclave/protocol";
import { prefetched, principalOf, type RouteReads } from "@conclave/runtime";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { pageQuery } from "../paging.ts";
import type { RoomCommands } from "./room-commands.ts";
import type { RoomState } from "./room-events.ts";
import { type RoomQueries, roomView } from "./room-queries.ts";

const idParams = z.object({ id: roomId }).strict();
const listQuery = pageQuery.strict();
const memberParams = z.object({ id: roomId, member: publicKey32 }).strict();

/** Room scopes (SPEC §3), decided here for every room route: reads need rooms:read, changes rooms:write. */
export const ROOM_SCOPES = { read: "rooms:read", write: "rooms:write" } as const;

/** The scope a room request needs: by method, so no route can be registered without one. */
function neededScope(method: string): string {
  return method === "GET" || method === "HEAD" ? ROOM_SCOPES.read : ROOM_SCOPES.write;
}

const signed = (body: "json" | "none") => ({ config: { body, auth: "signed" as const } });
/** A signed read route whose reads go out with the allowlist read, before the nonce claim (RouteReads). */
const signedReads = (reads: RouteReads<unknown>) => ({
  config: { body: "none" as const, auth: "signed" as const, reads },
});

/**
 * Room routes (docs/rooms.md), in one plugin scope whose hook checks the room scope
 * of every request after the signature (issue 15: a `rooms:read` user created
 * a room); authorization by membership happens in the queries and deciders.
 */
export function registerRoomRoutes(root: FastifyInstance, commands: RoomCommands, queries: RoomQueries): void {
  root.register(async (app) => {
    app.addHook("preHandler", async (request) => {
      const needed = neededScope(request.method);
      if (!principalOf(request).scopes.includes(needed)) {
        throw new ApiError("forbidden", `this needs the ${needed} scope`, { reason: "insufficient_scope" });
      }
    });
    routes(app, commands, queries);
  });
}

function routes(app: FastifyInstance, commands: RoomCommands, queries: RoomQueries): void {
  // Scoped to the caller's tenant: sent with the allowlist read under the signer's last tenant (readInTenant).
  // Params are checked again by the route, which answers their 400.
  const snapshot: RouteReads<RoomState | undefined> = async (request, signer) => {
    const params = idParams.safeParse(request.params);
    return params.success ? readInTenant(signer, (caller) => queries.snapshot(caller, params.data.id)) : undefined;
  };
  const myRooms: RouteReads<Awaited<ReturnType<RoomQueries["myRooms"]>> | undefined> = async (request, signer) => {
    const { limit, cursor } = listQuery.parse(request.query ?? {});
    return readInTenant(signer, (caller) => queries.myRooms(caller, limit, cursor));
  };

  app.post("/v1/rooms", signed("json"), async (request, reply) => {
    const actor = principalOf(request);
    const body = createRoomRequest.parse(request.body);
    const id = body.id ?? randomBytes(12).toString("base64url");
    const room = await commands.create(actor, {
      id,
      mode: body.mode,
      subject: body.subject,
      sealed_key: body.sealed_key,
    });
    return reply.code(201).send(roomView(room, actor.signPub));
  });

  app.get("/v1/rooms/:id", signedReads(snapshot), async (request) => {
    idParams.parse(request.params);
    return queries.room(principalOf(request), prefetched(request, snapshot));
  });

  app.get("/v1/rooms/:id/members", signedReads(snapshot), async (request) => {
    idParams.parse(request.params);
    const { limit, cursor } = listQuery.parse(request.query ?? {});
    return queries.members(principalOf(request), prefetched(request, snapshot), limit, cursor);
  });

  app.post("/v1/rooms/:id/members", signed("json"), async (request, reply) => {
    const actor = principalOf(request);
    const { id } = idParams.parse(request.params);
    const room = await commands.invite(actor, id, inviteRequest.parse(request.body));
    return reply.code(201).send(roomView(room, actor.signPub));
  });

  app.delete("/v1/rooms/:id/members/:member", signed("none"), async (request) => {
    const actor = principalOf(request);
    const { id, member } = memberParams.parse(request.params);
    return roomView(await commands.remove(actor, id, member), actor.signPub);
  });

  app.post("/v1/rooms/:id/keys", signed("json"), async (request) => {
    const actor = principalOf(request);
    const { id } = idParams.parse(request.params);
    return roomView(await commands.rekey(actor, id, rekeyRequest.parse(request.body)), actor.signPub);
  });

  app.get("/v1/rooms/:id/key", signedReads(snapshot), async (request) => {
    idParams.parse(request.params);
    return queries.myKey(principalOf(request), prefetched(request, snapshot));
  });

  app.get("/v1/me/rooms", signedReads(myRooms), async (request) => {
    listQuery.parse(request.query ?? {});
    return prefetched(request, myRooms);
  });
}
