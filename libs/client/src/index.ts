export { generateIdentity, type KeyFile, readKeyFile, writeKeyFile } from "@conclave/auth";
export { prepareBytes, prepareFile } from "./blob-transfer.ts";
export { type BotConnectOptions, BotLink, botAuthenticator, connectAsBot } from "./bot-connection.ts";
export { CoalescedRefresh } from "./coalesced-refresh.ts";
export { ConclaveClient, type ListPage, type PageOptions } from "./conclave-client.ts";
export { ConclaveError } from "./errors.ts";
export { NONCE_PATTERN, NonceRefusedError, nonceSigner } from "./nonce-signer.ts";
export { REPLAY_POLICY, ReplayGuard, type ReplayPolicy, SenderSequence } from "./replay-guard.ts";
export {
  createE2ERoom,
  inviteToE2ERoom,
  MAX_AWAITING_REFRESH,
  RoomChannel,
  type RoomChannelOptions,
  type RoomMessage,
  type RoomRemoved,
  RoomRemovedError,
  type RoomTransport,
} from "./room-channel.ts";
export {
  decryptMessage,
  ENVELOPE_VERSION,
  encryptMessage,
  envelopeSignedBySender,
  newRoomKey,
  openRoomKey,
  parseEnvelope,
  type RoomEnvelope,
  sealRoomKey,
} from "./room-crypto.ts";
export { SignedHttp } from "./signed-http.ts";
export type * from "./types.ts";
