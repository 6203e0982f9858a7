import { fromBase64url, type KeyFile, toBase64url, userNkeyOfSignPub } from "@conclave/auth";
import { botInboxPrefix } from "@conclave/protocol";
import type { Authenticator } from "@nats-io/nats-core";
import { type ConnectionOptions, connect, type NatsConnection } from "@nats-io/transport-node";
import { nonceSigner } from "./nonce-signer.ts";

/**
 * NATS nkey authentication with the bot's own identity (SPEC §10): its
 * `sign_pub` is its user nkey and it signs the server's nonce, through the
 * guarded signer, with its signing key. The auth callout checks both.
 */
export function botAuthenticator(identity: KeyFile): Authenticator {
  const nkey = userNkeyOfSignPub(identity.signPublicKey);
  const secret = fromBase64url(identity.signSecretKey);
  if (!nkey || !secret) throw new TypeError("the key file's signing keys are not Ed25519 keys");
  const signNonce = nonceSigner(secret);
  return (nonce?: string) => {
    // Without a nonce the server asked for no signature; sending none makes the callout refuse us.
    if (nonce === undefined) return { nkey, sig: "" };
    return { nkey, sig: toBase64url(signNonce(nonce)) };
  };
}

/**
 * Connects a bot to NATS as itself. It keeps reconnecting through auth
 * errors (nats.js gives up after two in a row otherwise): a callout outage
 * refuses reconnects for a while, and the bot should be back when it ends.
 */
export function connectAsBot(
  identity: KeyFile,
  opts: Omit<ConnectionOptions, "authenticator" | "user" | "pass" | "token">,
): Promise<NatsConnection> {
  return connect({
    name: identity.name,
    maxReconnectAttempts: -1,
    ignoreAuthErrorAbort: true,
    noAsyncTraces: true,
    // The only inbox the callout lets this bot subscribe to.
    inboxPrefix: botInboxPrefix(identity.signPublicKey),
    ...opts,
    authenticator: botAuthenticator(identity),
  });
}
