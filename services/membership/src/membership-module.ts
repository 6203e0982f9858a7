import { type ServiceModule, usersTable } from "@conclave/runtime";
import { UserCommands } from "./users/user-commands.ts";
import { USER_EVENT_SCHEMAS } from "./users/user-events.ts";
import { registerUserRoutes } from "./users/user-routes.ts";
import { usersProjection } from "./users/users-projection.ts";

/** Builds the users allowlist commands over a host's store, log and projection runner. */
export function userCommands(ctx: Parameters<ServiceModule["register"]>[0]): UserCommands {
  const projection = ctx.projections.get(usersProjection.name);
  if (!projection) throw new Error("the users projection is not running in this process");
  return new UserCommands({ log: ctx.log, users: usersTable(ctx.store), projection });
}

/** The membership service: users allowlist (rooms, members and keys follow). */
export const membershipModule: ServiceModule = {
  name: "membership",
  eventSchemas: { ...USER_EVENT_SCHEMAS },
  projections: [usersProjection],
  register(ctx) {
    registerUserRoutes(ctx.edge.app, userCommands(ctx));
  },
};
