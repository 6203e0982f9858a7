import { type Msg, PermissionViolationError, type Subscription } from "@nats-io/transport-node";
import { type BotConnectOptions, BotLink } from "./bot-connection.ts";
import { CoalescedRefresh } from "./coalesced-refresh.ts";
import type { ConclaveClient } from "./conclave-client.ts";
import { ReplayGuard, type ReplayPolicy, SenderSequence } from "./replay-guard.ts";
import {
  decryptVerified,
  encryptMessage,
  envelopeSignedBySender,
  newRoomKey,
  openRoomKey,
  parseEnvelope,
  type RoomEnvelope,
  sealRoomKey,
} from "./room-crypto.ts";
import type { RoomView } from "./types.ts";

export interface RoomMessage {
  from: string;
  epoch: number;
  seq: number;
  /** The sender's clock at sending (ms). */
  ts: number;
  data: Uint8Array;
  text(): string;
}

/** Why a channel stopped: the server refused the room's subject to this bot (it is no longer a member). */
export interface RoomRemoved {
  reason: "permission_violation";
  operation: "publish" | "subscription";
  subject: string;
  message: string;
}

export class RoomRemovedError extends Error {
  override readonly name = "RoomRemovedError";
  constructor(readonly removed: RoomRemoved) {
    super(`removed from the room: ${removed.message}`);
  }
}

/** How a channel reaches NATS: its own connection as the client's bot, or a link the bot already has open. */
export type RoomTransport = { servers: string | string[]; options?: BotConnectOptions } | { link: BotLink };

export interface RoomChannelOptions {
  /** Least time between two refreshes of members and keys triggered by envelopes (1 s). */
  refreshIntervalMs?: number;
  replay?: ReplayPolicy;
}

/** Envelopes waiting for a refresh at once; beyond it they are dropped (a flood must not queue without bound). */
export const MAX_AWAITING_REFRESH = 64;

/**
 * A member's view of an e2e room on NATS, connected as the member's own bot
 * (SPEC §10): the room's keys by epoch (opened locally), its members (who
 * may speak), publish and subscribe. An envelope at an epoch we have no key
 * for, or from a sender we do not know, triggers a refresh of members and
 * keys, coalesced and rate-limited. A key of an epoch we were removed from
 * never arrives, so we cannot read past our removal; and when the server
 * refuses the room's subject to us, the channel reports `removed`.
 */
export class RoomChannel {
  readonly client: ConclaveClient;
  readonly link: BotLink;
  room!: RoomView;
  /** Settles when the bot is removed from the room (never rejects). */
  readonly removed: Promise<RoomRemoved>;
  private removal: RoomRemoved | undefined;
  private resolveRemoved!: (r: RoomRemoved) => void;
  private readonly keys = new Map<number, Uint8Array>();
  private memberSet = new Set<string>();
  private readonly refresher: CoalescedRefresh;
  private readonly replayPolicy: ReplayPolicy | undefined;
  private readonly sequence = new SenderSequence();
  private readonly subs = new Set<Subscription>();
  private readonly stopWatching: () => void;
  private awaitingRefresh = 0;

  private constructor(
    client: ConclaveClient,
    link: BotLink,
    private readonly ownsLink: boolean,
    opts: RoomChannelOptions,
  ) {
    this.client = client;
    this.link = link;
    this.removed = new Promise((resolve) => {
      this.resolveRemoved = resolve;
    });
    this.refresher = new CoalescedRefresh(() => this.refresh(), opts.refreshIntervalMs ?? 1_000);
    this.replayPolicy = opts.replay;
    this.stopWatching = link.onViolation((err) => this.onViolation(err));
  }

  static async join(
    client: ConclaveClient,
    roomId: string,
    via: RoomTransport,
    opts: RoomChannelOptions = {},
  ): Promise<RoomChannel> {
    const me = client.identity.signPublicKey;
    if ("link" in via && via.link.identity.signPublicKey !== me) {
      throw new Error("the link is another bot's connection: a channel speaks with its own member's key");
    }
    const room = await client.getRoom(roomId);
    const link =
      "link" in via ? via.link : await BotLink.open(client.identity, { servers: via.servers, ...via.options });
    const channel = new RoomChannel(client, link, !("link" in via), opts);
    channel.room = room;
    try {
      await channel.refresh();
    } catch (err) {
      await channel.close();
      throw err;
    }
    return channel;
  }

  /** Re-reads the room, its members and our newest key (envelopes ask through the rate-limited refresher). */
  async refresh(): Promise<void> {
    this.room = await this.client.getRoom(this.room.id);
    this.memberSet = new Set((await this.client.members(this.room.id)).map((m) => m.member));
    if (this.room.mode === "e2e") {
      const sealed = await this.client.myKey(this.room.id);
      this.keys.set(sealed.epoch, openRoomKey(sealed.sealed_key, this.client.identity.kexSecretKey));
    }
  }

  /** Refreshes started by envelopes so far (the refresh-flood bound is on this figure). */
  get refreshes(): number {
    return this.refresher.runs;
  }

  get epoch(): number {
    return Math.max(0, ...this.keys.keys());
  }

  get isRemoved(): boolean {
    return this.removal !== undefined;
  }

  async publish(data: Uint8Array | string): Promise<void> {
    if (this.removal) throw new RoomRemovedError(this.removal);
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const key = this.keys.get(this.epoch);
    if (!key) throw new Error(`no key for room ${this.room.id}`);
    const id = this.client.identity;
    const envelope = encryptMessage(bytes, {
      room: this.room.id,
      epoch: this.epoch,
      ...this.sequence.next(),
      roomKey: key,
      signPub: id.signPublicKey,
      signSecretKey: id.signSecretKey,
    });
    this.link.nc.publish(this.room.subject, JSON.stringify(envelope));
    await this.link.nc.flush();
  }

  /**
   * Delivers decrypted, verified, first-seen messages; drops (and reports)
   * anything else. Resolves once the server has the subscription.
   */
  async subscribe(
    onMessage: (m: RoomMessage) => void,
    onDropped: (why: string) => void = () => {},
  ): Promise<Subscription> {
    if (this.removal) throw new RoomRemovedError(this.removal);
    // Per subscription: each one delivers every envelope once (a guard shared by two would drop the second copy).
    const replay = new ReplayGuard(this.replayPolicy);
    const sub = this.link.nc.subscribe(this.room.subject, {
      callback: (err, msg) => {
        // nats.js hands a refused subscription's error to its callback, then closes it.
        if (err instanceof PermissionViolationError) this.onViolation(err);
        else if (err) onDropped(err.message);
        else this.receive(msg, replay, onMessage, onDropped);
      },
    });
    this.subs.add(sub);
    void sub.closed.finally(() => this.subs.delete(sub));
    await this.link.nc.flush();
    return sub;
  }

  /** Stops this channel's subscriptions, and its connection if the channel opened it. */
  async close(): Promise<void> {
    this.stopWatching();
    for (const sub of this.subs) sub.unsubscribe();
    if (this.ownsLink) await this.link.close();
  }

  private receive(
    msg: Msg,
    replay: ReplayGuard,
    onMessage: (m: RoomMessage) => void,
    onDropped: (why: string) => void,
  ): void {
    const envelope = this.screen(msg, replay);
    const deliver = () => {
      const opened = this.open(envelope as RoomEnvelope, replay);
      if (typeof opened === "string") onDropped(opened);
      else onMessage(opened);
    };
    if (typeof envelope === "string") onDropped(envelope);
    else if (this.keys.has(envelope.epoch) && this.memberSet.has(envelope.from)) deliver();
    // Only a newer epoch can still arrive by refreshing: our key is always the newest one sealed to us.
    else if (envelope.epoch < this.epoch) onDropped(`no key for epoch ${envelope.epoch}`);
    else if (this.awaitingRefresh >= MAX_AWAITING_REFRESH) onDropped("too many envelopes waiting for a refresh");
    else {
      this.awaitingRefresh++;
      this.refresher
        .request()
        .then(deliver, (err: unknown) => onDropped(`refresh failed: ${(err as Error).message}`))
        .finally(() => this.awaitingRefresh--);
    }
  }

  /** The envelope, or why it is dropped. Cheap refusals only, none costing a refresh (junk must not turn into one). */
  private screen(msg: Msg, replay: ReplayGuard): RoomEnvelope | string {
    let envelope: RoomEnvelope | string;
    try {
      envelope = parseEnvelope(msg.json());
    } catch {
      return "not JSON";
    }
    if (typeof envelope === "string") return envelope;
    if (envelope.room !== this.room.id) return "envelope for another room";
    const replayed = replay.check(envelope.from, envelope.seq, envelope.ts);
    if (replayed) return replayed;
    if (!envelopeSignedBySender(envelope)) return "message signature does not verify";
    return envelope;
  }

  /** Decrypts a screened envelope of a known member and epoch and records it as seen, or says why not. */
  private open(envelope: RoomEnvelope, replay: ReplayGuard): RoomMessage | string {
    const key = this.keys.get(envelope.epoch);
    if (!key) return `no key for epoch ${envelope.epoch}`;
    if (!this.memberSet.has(envelope.from)) return "sender is not a member";
    // Again: a copy may have been accepted while this one waited for a refresh.
    const replayed = replay.check(envelope.from, envelope.seq, envelope.ts);
    if (replayed) return replayed;
    let data: Uint8Array;
    try {
      data = decryptVerified(envelope, key); // screen() verified the signature
    } catch (err) {
      return (err as Error).message;
    }
    replay.accept(envelope.from, envelope.seq, envelope.ts);
    const { from, epoch, seq, ts } = envelope;
    return { from, epoch, seq, ts, data, text: () => new TextDecoder().decode(data) };
  }

  private onViolation(err: PermissionViolationError): void {
    if (this.removal || err.subject !== this.room.subject) return;
    if (err.operation !== "publish" && err.operation !== "subscription") return;
    this.removal = {
      reason: "permission_violation",
      operation: err.operation,
      subject: err.subject,
      message: err.message,
    };
    for (const sub of this.subs) sub.unsubscribe();
    this.resolveRemoved(this.removal);
  }

  /** Owner/admin: a fresh key for every current member at the next epoch (after a removal, or a rotation). */
  async rotate(): Promise<number> {
    const room = await this.client.getRoom(this.room.id);
    const members = await this.client.members(this.room.id);
    const epoch = room.rekey_pending ? room.epoch : room.epoch + 1;
    const key = newRoomKey();
    await this.client.rekey(
      this.room.id,
      epoch,
      Object.fromEntries(members.map((m) => [m.member, sealRoomKey(key, m.kex_pub)])),
    );
    await this.refresh();
    return epoch;
  }
}

/** Creates an e2e room whose epoch-1 key is sealed to its creator. Returns the room and its key. */
export async function createE2ERoom(client: ConclaveClient, opts: { id?: string } = {}) {
  const key = newRoomKey();
  const room = await client.createRoom({
    ...opts,
    mode: "e2e",
    sealed_key: sealRoomKey(key, client.identity.kexPublicKey),
  });
  return { room, key };
}

/** Invites a member into an e2e room, sealing the current key to its kex_pub (known out of band). */
export async function inviteToE2ERoom(
  client: ConclaveClient,
  roomId: string,
  member: { signPub: string; kexPub: string },
) {
  const sealed = await client.myKey(roomId);
  const key = openRoomKey(sealed.sealed_key, client.identity.kexSecretKey);
  return client.invite(roomId, { member: member.signPub, sealed_key: sealRoomKey(key, member.kexPub) });
}
