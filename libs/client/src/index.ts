export { generateIdentity, type KeyFile, readKeyFile, writeKeyFile } from "@conclave/auth";
export { prepareBytes, prepareFile } from "./blob-transfer.ts";
export { botAuthenticator, connectAsBot } from "./bot-connection.ts";
export { ConclaveClient, type ListPage, type PageOptions } from "./conclave-client.ts";
export { ConclaveError } from "./errors.ts";
export { NONCE_PATTERN, NonceRefusedError, nonceSigner } from "./nonce-signer.ts";
export { createE2ERoom, inviteToE2ERoom, RoomChannel, type RoomMessage } from "./room-channel.ts";
export {
  decryptMessage,
  encryptMessage,
  newRoomKey,
  openRoomKey,
  type RoomEnvelope,
  sealRoomKey,
} from "./room-crypto.ts";
export { SignedHttp } from "./signed-http.ts";
export type * from "./types.ts";
