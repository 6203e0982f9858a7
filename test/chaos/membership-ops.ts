import { randomBytes } from "node:crypto";
import { signWire, type Wire } from "./signed-call.ts";
import { type Bot, isOk, type OpGroup, type WorkloadContext } from "./workload.ts";

/** The workload's view of one room; refreshed from the API whenever an answer was not clear. */
interface RoomModel {
  id: string;
  owner: Bot;
  members: Set<string>;
  epoch: number;
  keyedEpoch: number;
  dirty: boolean;
  busy: boolean;
}

const sealed = () => randomBytes(24).toString("base64url");
const MAX_ROOMS = 12;

/**
 * Membership operations: user adds and revocations by the admin; rooms
 * created, invited to, removed from and rekeyed by their owners; member
 * reads; probes by revoked users; writes that must be refused; and
 * deliberate replays of captured signed requests to another replica
 * (concurrently, right after, or 1–20 s later, across faults).
 */
export class MembershipOps implements OpGroup {
  private readonly c: WorkloadContext;
  private readonly rooms: RoomModel[] = [];
  private roomSeq = 0;

  constructor(ctx: WorkloadContext) {
    this.c = ctx;
  }

  /** The rooms as the workload believes them to be (the data-plane bots listen and publish on them). */
  roomViews(): readonly RoomModel[] {
    return this.rooms;
  }

  weights(): Record<string, number> {
    const revoked = this.c.bots.some((b) => b.status === "revoked" || b.status === "revoking");
    return {
      userAdd: 5,
      userRevoke: 2,
      revokedProbe: revoked ? 3 : 0,
      roomCreate: this.rooms.length < MAX_ROOMS ? (this.rooms.length < 3 ? 12 : 3) : 0,
      roomChange: 18,
      roomRead: 8,
      replay: 7,
    };
  }

  run(op: string): Promise<void> {
    switch (op) {
      case "userAdd":
        return this.userAdd();
      case "userRevoke":
        return this.userRevoke();
      case "revokedProbe":
        return this.revokedProbe();
      case "roomCreate":
        return this.roomCreate();
      case "roomChange":
        return this.roomChange();
      case "roomRead":
        return this.roomRead();
      default:
        return this.replay();
    }
  }

  private call(op: string, actor: Bot, method: string, path: string, json: unknown, summary: Record<string, unknown>) {
    return this.c.call("membership", op, actor, method, path, json, summary);
  }

  // ---- users (admin) ----

  private addBody(bot: Bot) {
    const k = bot.key;
    return {
      sign_pub: k.signPublicKey,
      kex_pub: k.kexPublicKey,
      tenant: this.c.d.tenant,
      role: "member",
      name: bot.name,
    };
  }

  private async userAdd(): Promise<void> {
    const bot = this.c.newBot();
    const res = await this.call("user.add", this.c.d.admin, "POST", "/v1/users", this.addBody(bot), {
      user: bot.key.signPublicKey,
    });
    if (res && isOk(res.answer.status)) bot.status = "active";
  }

  private async userRevoke(): Promise<void> {
    // Owners and the admin stay; keep enough members to invite.
    const candidates = this.c.active("member");
    if (candidates.length <= 4) return;
    const bot = this.c.rng.pick(candidates) as Bot;
    bot.status = "revoking";
    // A request the bot signed before its revocation, sent after it: must be refused all the same.
    const presigned = this.c.rng.chance(0.5) ? signWire(bot.key, "GET", "/v1/me/rooms") : undefined;
    const path = `/v1/users/${bot.key.signPublicKey}/revoke`;
    const summary = { user: bot.key.signPublicKey };
    const res = await this.call("user.revoke", this.c.d.admin, "POST", path, { reason: "chaos" }, summary);
    if (!res || !isOk(res.answer.status)) return;
    bot.status = "revoked";
    const target = this.c.target("membership");
    if (presigned && target) await this.c.exec("revoked.presigned", bot, presigned, {}, target);
  }

  private async revokedProbe(): Promise<void> {
    const bot = this.c.rng.pick(this.c.bots.filter((b) => b.status === "revoked" || b.status === "revoking"));
    if (bot) await this.call("revoked.probe", bot, "GET", "/v1/me/rooms", undefined, {});
  }

  // ---- rooms (owners) ----

  private async roomCreate(): Promise<void> {
    const owner = this.c.rng.pick(this.c.active("owner"));
    if (!owner) return;
    const id = `room${++this.roomSeq}`;
    const key = sealed();
    const body = { id, mode: "e2e", sealed_key: key };
    const res = await this.call("room.create", owner, "POST", "/v1/rooms", body, { room: id, sealed: key });
    if (!res) return;
    const ack = res.answer.body as { epoch?: number; keyed_epoch?: number };
    const room = { id, owner, members: new Set<string>(), epoch: 0, keyedEpoch: 0, dirty: true, busy: false };
    if (isOk(res.answer.status)) {
      this.rooms.push({
        ...room,
        members: new Set([owner.key.signPublicKey]),
        epoch: ack.epoch ?? 1,
        keyedEpoch: ack.keyed_epoch ?? 1,
        dirty: false,
      });
    } else if (res.answer.status === 0 || res.answer.status >= 500) {
      // Unknown outcome: the room may exist; a refresh will tell (a 404 forgets it).
      this.rooms.push(room);
    }
  }

  private applyView(room: RoomModel, body: unknown): void {
    const v = body as { epoch: number; keyed_epoch: number; members: number };
    room.epoch = v.epoch;
    room.keyedEpoch = v.keyed_epoch;
    if (v.members !== room.members.size) room.dirty = true;
  }

  /** Re-reads a room (as its owner) after an unclear answer; false while the store cannot say. */
  private async refresh(room: RoomModel): Promise<boolean> {
    const view = await this.call("room.get", room.owner, "GET", `/v1/rooms/${room.id}`, undefined, { room: room.id });
    if (!view) return false;
    if (view.answer.status === 404) {
      this.rooms.splice(this.rooms.indexOf(room), 1);
      return false;
    }
    if (!isOk(view.answer.status)) return false;
    const path = `/v1/rooms/${room.id}/members`;
    const members = await this.call("room.members", room.owner, "GET", path, undefined, { room: room.id });
    if (!members || !isOk(members.answer.status)) return false;
    room.members = new Set((members.answer.body as { members: { member: string }[] }).members.map((m) => m.member));
    const v = view.answer.body as { epoch: number; keyed_epoch: number };
    room.epoch = v.epoch;
    room.keyedEpoch = v.keyed_epoch;
    room.dirty = false;
    return true;
  }

  private async roomChange(): Promise<void> {
    const room = this.c.rng.pick(this.rooms.filter((r) => !r.busy && r.owner.status === "active"));
    if (!room) return;
    room.busy = true;
    try {
      if (room.dirty && !(await this.refresh(room))) return;
      const pending = room.keyedEpoch < room.epoch;
      const invitees = this.c.active().filter((b) => !room.members.has(b.key.signPublicKey));
      const removable = [...room.members].filter((m) => m !== room.owner.key.signPublicKey);
      const revoked = this.c.bots.filter((b) => b.status === "revoked");
      const choice = pending
        ? "rekey"
        : this.c.rng.weighted({
            invite: invitees.length > 0 ? 10 : 0,
            remove: removable.length > 0 ? 6 : 0,
            rekey: 2,
            badInvite: invitees.length > 0 && removable.length > 0 ? 1 : 0,
            revokedInvite: revoked.length > 0 ? 1 : 0,
            staleRekey: 1,
          });
      if (choice === "invite") await this.invite(room, this.c.rng.pick(invitees) as Bot);
      else if (choice === "remove") await this.remove(room, this.c.rng.pick(removable) as string);
      else if (choice === "rekey") await this.rekey(room);
      else await this.refused(room, choice, invitees, removable, revoked);
    } finally {
      room.busy = false;
    }
  }

  private async invite(room: RoomModel, bot: Bot): Promise<void> {
    const key = sealed();
    const member = bot.key.signPublicKey;
    const path = `/v1/rooms/${room.id}/members`;
    const summary = { room: room.id, member, sealed: key };
    const res = await this.call("room.invite", room.owner, "POST", path, { member, sealed_key: key }, summary);
    if (res && isOk(res.answer.status)) {
      room.members.add(member);
      this.applyView(room, res.answer.body);
    } else room.dirty = true;
  }

  private async remove(room: RoomModel, member: string): Promise<void> {
    const path = `/v1/rooms/${room.id}/members/${member}`;
    const res = await this.call("room.remove", room.owner, "DELETE", path, undefined, { room: room.id, member });
    if (res && isOk(res.answer.status)) {
      room.members.delete(member);
      this.applyView(room, res.answer.body);
    } else room.dirty = true;
  }

  /** Reads the members, then seals a (fake) key to each of them at the pending or next epoch. */
  private async rekey(room: RoomModel): Promise<void> {
    const path = `/v1/rooms/${room.id}/members`;
    const list = await this.call("room.members", room.owner, "GET", path, undefined, { room: room.id });
    if (!list || !isOk(list.answer.status)) {
      room.dirty = true;
      return;
    }
    const members = (list.answer.body as { members: { member: string }[] }).members.map((m) => m.member);
    room.members = new Set(members);
    const epoch = room.keyedEpoch < room.epoch ? room.epoch : room.epoch + 1;
    const keys = Object.fromEntries(members.map((m) => [m, sealed()]));
    const res = await this.call(
      "room.rekey",
      room.owner,
      "POST",
      `/v1/rooms/${room.id}/keys`,
      { epoch, sealed_keys: keys },
      {
        room: room.id,
        epoch,
        keys,
      },
    );
    if (res && isOk(res.answer.status)) this.applyView(room, res.answer.body);
    else room.dirty = true;
  }

  /**
   * Writes the service must refuse (the refused-writes checker looks for them
   * in the log): an invite signed by a plain member (403), an invite of a
   * revoked user (400), a rekey to an epoch that is already keyed (409).
   */
  private async refused(
    room: RoomModel,
    kind: "badInvite" | "revokedInvite" | "staleRekey",
    invitees: Bot[],
    removable: string[],
    revoked: Bot[],
  ): Promise<void> {
    if (kind === "staleRekey") {
      const epoch = room.keyedEpoch;
      const keys = Object.fromEntries([...room.members].map((m) => [m, sealed()]));
      const path = `/v1/rooms/${room.id}/keys`;
      await this.call(
        "bad.rekey",
        room.owner,
        "POST",
        path,
        { epoch, sealed_keys: keys },
        { room: room.id, epoch, keys },
      );
      return;
    }
    const invitee = kind === "badInvite" ? this.c.rng.pick(invitees) : this.c.rng.pick(revoked);
    const signerKey = kind === "badInvite" ? this.c.rng.pick(removable) : room.owner.key.signPublicKey;
    const signer = this.c.bots.find((b) => b.key.signPublicKey === signerKey && b.status === "active");
    if (!invitee || !signer) return;
    const key = sealed();
    const member = invitee.key.signPublicKey;
    const path = `/v1/rooms/${room.id}/members`;
    await this.call(
      "bad.invite",
      signer,
      "POST",
      path,
      { member, sealed_key: key },
      { room: room.id, member, sealed: key },
    );
  }

  private async roomRead(): Promise<void> {
    const room = this.c.rng.pick(this.rooms.filter((r) => !r.dirty));
    const memberKey = room && this.c.rng.pick([...room.members]);
    const bot = memberKey && this.c.bots.find((b) => b.key.signPublicKey === memberKey && b.status === "active");
    if (!room || !bot) {
      const anyone = this.c.rng.pick(this.c.active());
      if (anyone) await this.call("me.rooms", anyone, "GET", "/v1/me/rooms", undefined, {});
      return;
    }
    if (this.c.rng.chance(0.6))
      await this.call("room.key", bot, "GET", `/v1/rooms/${room.id}/key`, undefined, { room: room.id });
    else await this.call("room.get", bot, "GET", `/v1/rooms/${room.id}`, undefined, { room: room.id });
  }

  // ---- replays ----

  /**
   * Captures a signed request and sends the same bytes again to another
   * replica: at the same time as the original, right after it, or 1–20 s
   * later. Reads are the sharpest probe (a second acceptance would be a 200);
   * an add replayed would answer 409 instead of 401.
   */
  private async replay(): Promise<void> {
    const first = this.c.target("membership");
    if (!first) return;
    const source = this.c.rng.weighted({ myRooms: 5, self: 2, add: 3 });
    let actor: Bot;
    let wire: Wire;
    let op: string;
    let summary: Record<string, unknown> = {};
    let added: Bot | undefined;
    if (source === "add") {
      added = this.c.newBot();
      actor = this.c.d.admin;
      op = "user.add";
      wire = signWire(actor.key, "POST", "/v1/users", this.addBody(added));
      summary = { user: added.key.signPublicKey };
    } else {
      const bot = this.c.rng.pick(this.c.active());
      if (!bot) return;
      actor = bot;
      op = source === "self" ? "user.self" : "me.rooms";
      wire = signWire(bot.key, "GET", source === "self" ? `/v1/users/${bot.key.signPublicKey}` : "/v1/me/rooms");
    }
    const mode = this.c.rng.weighted({ concurrent: 3, after: 4, delayed: 3 });
    const id = this.c.d.history.newId();
    const again = async () => {
      const target = this.c.otherTarget("membership", first.name) ?? first;
      const res = await this.c.exec(`replay.${op}`, actor, wire, summary, target, { replayOf: id });
      if (added && isOk(res.answer.status)) added.status = "active";
    };
    if (mode === "concurrent") {
      const [original] = await Promise.all([this.c.exec(op, actor, wire, summary, first, { id }), again()]);
      if (added && isOk(original.answer.status)) added.status = "active";
      return;
    }
    const original = await this.c.exec(op, actor, wire, summary, first, { id });
    if (added && isOk(original.answer.status)) added.status = "active";
    if (mode === "after") await again();
    // Later, within the 30 s signature window, across whatever fault comes next.
    else this.c.later(this.c.rng.int(1_000, 20_000), again);
  }
}
