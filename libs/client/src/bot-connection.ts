import { fromBase64url, type KeyFile, toBase64url, userNkeyOfSignPub } from "@conclave/auth";
import { botInboxPrefix } from "@conclave/protocol";
import type { Authenticator } from "@nats-io/nats-core";
import { NatsConnectionImpl } from "@nats-io/nats-core/internal";
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
 * Connects a bot to NATS as itself. The first connect ends at a refusal:
 * nats.js gives up at the second authorization error in a row (two servers
 * refusing the key, an unregistered or revoked one). Without that, against a
 * cluster it never ended: a first connect drops each refusing server from the
 * pool, but the next server's INFO gossips it back (`connect_urls`), so the
 * pool never empties. Once admitted, the bot reconnects forever through auth
 * errors: a callout outage refuses reconnects for a while, and the bot should
 * be back when it ends. `waitOnFirstConnect: true` makes the first connect
 * wait through refusals as well (a connect storm answered "busy").
 */
export async function connectAsBot(identity: KeyFile, opts: BotConnectOptions): Promise<NatsConnection> {
  const throughAuthErrors = opts.ignoreAuthErrorAbort ?? true;
  const nc = await connect({
    name: identity.name,
    maxReconnectAttempts: -1,
    noAsyncTraces: true,
    // The only inbox the callout lets this bot subscribe to.
    inboxPrefix: botInboxPrefix(identity.signPublicKey),
    ...opts,
    ignoreAuthErrorAbort: throughAuthErrors && opts.waitOnFirstConnect === true,
    authenticator: botAuthenticator(identity),
  });
  if (throughAuthErrors) reconnectThroughAuthErrors(nc);
  return nc;
}

/**
 * nats.js reads `ignoreAuthErrorAbort` at each auth error from the options its
 * protocol handler holds (protocol.js, `handleAuthError`), and has no setter:
 * set it there. A nats.js that no longer has them fails here, not later.
 */
function reconnectThroughAuthErrors(nc: NatsConnection): void {
  if (!(nc instanceof NatsConnectionImpl)) {
    void nc.close();
    throw new TypeError("nats.js changed: no protocol options to keep reconnecting through auth errors");
  }
  nc.protocol.options.ignoreAuthErrorAbort = true;
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
