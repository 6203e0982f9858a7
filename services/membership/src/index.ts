export { membershipModule, roomCommands, roomQueries, userCommands } from "./membership-module.ts";
export { ROOM_EVENT_SCHEMAS, roomState } from "./rooms/room-events.ts";
export { applyRoomEvent, roomsProjection } from "./rooms/rooms-projection.ts";
export { UserCommands } from "./users/user-commands.ts";
export { appendToUserIndex, CHUNK, chunkKey, readUserIndex, userIndexEntry } from "./users/user-index.ts";
export { usersProjection } from "./users/users-projection.ts";
