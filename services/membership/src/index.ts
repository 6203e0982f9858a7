export { membershipModule, userCommands } from "./membership-module.ts";
export { UserCommands } from "./users/user-commands.ts";
