export { membershipModule, roomCommands, roomQueries, userCommands } from "./membership-module.ts";
export { roomsProjection } from "./rooms/rooms-projection.ts";
export { UserCommands } from "./users/user-commands.ts";
export { appendToUserIndex, CHUNK, chunkKey, readUserIndex, userIndexEntry } from "./users/user-index.ts";
export { usersProjection } from "./users/users-projection.ts";
