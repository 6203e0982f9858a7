import {
  isLoopbackHost,
  principalLookup,
  type ServiceContext,
  type ServiceModule,
  usersTable,
} from "@conclave/runtime";
import { ProjectionRunner, projected, projectionTables } from "@conclave/store";
import { revocationSweep } from "./rooms/revocation-sweep.ts";
import { RoomCommands } from "./rooms/room-commands.ts";
import { memberRoomEntry, ROOM_EVENT_SCHEMAS, roomKeyEntry, roomState } from "./rooms/room-events.ts";
import { RoomQueries } from "./rooms/room-queries.ts";
import { registerRoomRoutes } from "./rooms/room-routes.ts";
import { roomsProjection } from "./rooms/rooms-projection.ts";
import { UserCommands } from "./users/user-commands.ts";
import { USER_EVENT_SCHEMAS } from "./users/user-events.ts";
import { userIndexEntry } from "./users/user-index.ts";
import { registerUserRoutes } from "./users/user-routes.ts";
import { usersProjection } from "./users/users-projection.ts";

function runner(ctx: ServiceContext, name: string) {
  const projection = ctx.projections.get(name);
  if (!projection) throw new Error(`the ${name} projection is not running in this process`);
  return projection;
}

/** Builds the users allowlist commands over a host's store, log and projection runner. */
export function userCommands(ctx: ServiceContext): UserCommands {
  return new UserCommands({
    log: ctx.log,
    users: usersTable(ctx.store),
    index: ctx.store.table("userIndex", projected(userIndexEntry)),
    projection: runner(ctx, usersProjection.name),
  });
}

export function roomCommands(ctx: ServiceContext): RoomCommands {
  return new RoomCommands({
    log: ctx.log,
    rooms: ctx.store.table("rooms", projected(roomState)),
    tables: projectionTables(ctx.store),
    lookupUser: principalLookup(ctx.store),
    cleartextAllowed: isLoopbackHost(ctx.env.CONCLAVE_HOST),
  });
}

export function roomQueries(ctx: ServiceContext): RoomQueries {
  return new RoomQueries({
    rooms: ctx.store.table("rooms", projected(roomState)),
    memberRooms: ctx.store.table("memberRooms", projected(memberRoomEntry)),
    roomKeys: ctx.store.table("roomKeys", projected(roomKeyEntry)),
  });
}

/**
 * Starts the revocation sweep (rooms/revocation-sweep.ts) next to the projections: it needs the
 * room commands, so it is built here; the host stops it with the other runners.
 */
function startRevocationSweep(ctx: ServiceContext): void {
  const sweep = revocationSweep({
    log: ctx.log,
    commands: roomCommands(ctx),
    memberRooms: ctx.store.table("memberRooms", projected(memberRoomEntry)),
    rooms: runner(ctx, roomsProjection.name),
  });
  const sweeper = new ProjectionRunner(ctx.store, ctx.log, sweep, ctx.logger);
  sweeper.start();
  ctx.projections.set(sweep.name, sweeper);
}

/** The membership service: the users allowlist, rooms, members, sealed keys and discovery. */
export const membershipModule: ServiceModule = {
  name: "membership",
  eventSchemas: { ...USER_EVENT_SCHEMAS, ...ROOM_EVENT_SCHEMAS },
  projections: [usersProjection, roomsProjection],
  register(ctx) {
    registerUserRoutes(ctx.edge.app, userCommands(ctx));
    registerRoomRoutes(ctx.edge.app, roomCommands(ctx), roomQueries(ctx));
    startRevocationSweep(ctx);
  },
};
