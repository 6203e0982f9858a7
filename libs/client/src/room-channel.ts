import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { ConclaveClient } from "./conclave-client.ts";
import {
  decryptMessage,
  encryptMessage,
  newRoomKey,
  openRoomKey,
  type RoomEnvelope,
  sealRoomKey,
} from "./room-crypto.ts";
import type { RoomView } from "./types.ts";

export interface RoomMessage {
  from: string;
  epoch: number;
  data: Uint8Array;
  text(): string;
}

/**
 * A member's view of an e2e room on NATS: the room's keys by epoch (opened
 * locally), its members (who may speak), publish and subscribe. When a message
 * arrives at an epoch we have no key for — the room was rekeyed — it fetches
 * the new sealed key and carries on; a key of an epoch it was removed from
 * never arrives, so it cannot read past its removal.
 */
export class RoomChannel {
  readonly client: ConclaveClient;
  readonly nc: NatsConnection;
  room!: RoomView;
  private readonly keys = new Map<number, Uint8Array>();
  private memberSet = new Set<string>();

  private constructor(client: ConclaveClient, nc: NatsConnection) {
    this.client = client;
    this.nc = nc;
  }

  static async join(client: ConclaveClient, roomId: string, nc: NatsConnection): Promise<RoomChannel> {
    const channel = new RoomChannel(client, nc);
    channel.room = await client.getRoom(roomId);
    await channel.refresh();
    return channel;
  }

  /** Re-reads the room, its members and our newest key. */
  async refresh(): Promise<void> {
    this.room = await this.client.getRoom(this.room.id);
    this.memberSet = new Set((await this.client.members(this.room.id)).map((m) => m.member));
    if (this.room.mode === "e2e") {
      const sealed = await this.client.myKey(this.room.id);
      this.keys.set(sealed.epoch, openRoomKey(sealed.sealed_key, this.client.identity.kexSecretKey));
    }
  }

  get epoch(): number {
    return Math.max(0, ...this.keys.keys());
  }

  async publish(data: Uint8Array | string): Promise<void> {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    const key = this.keys.get(this.epoch);
    if (!key) throw new Error(`no key for room ${this.room.id}`);
    const id = this.client.identity;
    const envelope = encryptMessage(bytes, {
      room: this.room.id,
      epoch: this.epoch,
      roomKey: key,
      signPub: id.signPublicKey,
      signSecretKey: id.signSecretKey,
    });
    this.nc.publish(this.room.subject, JSON.stringify(envelope));
    await this.nc.flush();
  }

  /** Delivers decrypted, verified messages; drops (and reports) anything else. */
  subscribe(onMessage: (m: RoomMessage) => void, onDropped: (why: string) => void = () => {}): Subscription {
    const sub = this.nc.subscribe(this.room.subject);
    void (async () => {
      for await (const msg of sub) {
        try {
          const envelope = msg.json<RoomEnvelope>();
          if (envelope.room !== this.room.id) throw new Error("envelope for another room");
          if (!this.keys.has(envelope.epoch) || !this.memberSet.has(envelope.from)) await this.refresh();
          const key = this.keys.get(envelope.epoch);
          if (!key) throw new Error(`no key for epoch ${envelope.epoch}`);
          if (!this.memberSet.has(envelope.from)) throw new Error("sender is not a member");
          const data = decryptMessage(envelope, key, envelope.from);
          onMessage({ from: envelope.from, epoch: envelope.epoch, data, text: () => new TextDecoder().decode(data) });
        } catch (err) {
          onDropped((err as Error).message);
        }
      }
    })();
    return sub;
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
