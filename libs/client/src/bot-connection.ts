import { fromBase64url, type KeyFile, toBase64url, userNkeyOfSignPub } from "@conclave/auth";
import { botInboxPrefix } from "@conclave/protocol";
import type { Authenticator } from "@nats-io/nats-core";
import {
  type ConnectionOptions,
  connect,
  type NatsConnection,
  PermissionViolationError,
} from "@nats-io/transport-node";
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
export function connectAsBot(identity: KeyFile, opts: BotConnectOptions): Promise<NatsConnection> {
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

export type BotConnectOptions = Omit<ConnectionOptions, "authenticator" | "user" | "pass" | "token">;

/**
 * A bot's own NATS connection, shareable by its room channels (one
 * connection per bot, not per room: the callout admits each connection, and
 * a connection carries every room the bot is in). It hands the server's
 * permission violations to whoever watches them: on a room's subject that
 * means the bot is no longer in the room.
 */
export class BotLink {
  private readonly watchers = new Set<(err: PermissionViolationError) => void>();

  private constructor(
    readonly identity: KeyFile,
    readonly nc: NatsConnection,
  ) {
    void this.watch();
  }

  static async open(identity: KeyFile, opts: BotConnectOptions): Promise<BotLink> {
    return new BotLink(identity, await connectAsBot(identity, opts));
  }

  /** Calls `fn` with each permission violation; returns the function that stops it. */
  onViolation(fn: (err: PermissionViolationError) => void): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  close(): Promise<void> {
    return this.nc.close();
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type !== "error" || !(s.error instanceof PermissionViolationError)) continue;
      for (const fn of this.watchers) fn(s.error);
    }
  }
}
