import { deciderSpec } from "@conclave/store";
import { describe, expect, it } from "vitest";
import { roomDecider } from "./room-decider.ts";

// Given room events, when a command, then the event decided (or the refusal): no I/O.
const key = (c: string) => c.repeat(43);
const owner = { signPub: key("O"), kexPub: key("o"), tenant: "acme" };
const member = { signPub: key("M"), kexPub: key("m"), tenant: "acme" };
const sealed = "s".repeat(48);
const spec = deciderSpec(roomDecider, { type: "room", id: "acme.r1" });
const created = {
  type: "room.created" as const,
  data: {
    subject: "conclave.room.acme.r1",
    mode: "e2e" as const,
    tenant: "acme",
    owner: owner.signPub,
    owner_kex: owner.kexPub,
    sealed_key: sealed,
  },
};
const invited = {
  type: "room.member_invited" as const,
  data: { member: member.signPub, kex_pub: member.kexPub, role: "member" as const, sealed_key: sealed },
};

describe("room decider, given/when/then", () => {
  it("given nothing, when the owner creates, then room.created naming the signer as owner", () => {
    const { decided, state } = spec.given([]).when({
      kind: "create",
      actor: owner,
      input: { id: "r1", mode: "e2e", sealed_key: sealed },
      cleartextAllowed: false,
    });
    expect(decided).toEqual(created);
    expect(state).toMatchObject({ id: "r1", aggregate_id: "acme.r1", epoch: 1, keyed_epoch: 1 });
  });

  it("given a created room, when it is created again, then conflict", () => {
    const create = { kind: "create", actor: owner, input: { id: "r1", mode: "e2e", sealed_key: sealed } } as const;
    expect(spec.given([created]).refusal({ ...create, cleartextAllowed: false })).toMatchObject({ code: "conflict" });
  });

  it("given a member invited, when it is removed, then room.member_removed and an unkeyed epoch", () => {
    const { decided, state } = spec
      .given([created, invited])
      .when({ kind: "remove", actor: owner, member: member.signPub });
    expect(decided).toEqual({ type: "room.member_removed", data: { member: member.signPub } });
    expect([state?.epoch, state?.keyed_epoch, state?.members[member.signPub]]).toEqual([2, 1, undefined]);
  });

  it("given a removal pending its rekey, when the owner invites, then conflict (rekey first)", () => {
    const removed = { type: "room.member_removed" as const, data: { member: member.signPub } };
    const invitee = { ...member, active: true };
    const invite = { kind: "invite", actor: owner, invitee, input: { role: "member", sealed_key: sealed } } as const;
    expect(spec.given([created, invited, removed]).refusal(invite)).toMatchObject({ code: "conflict" });
  });

  it("given a revoked member already removed, when the sweep removes it again, then nothing to do", () => {
    const removed = {
      type: "room.member_removed" as const,
      data: { member: member.signPub, reason: "revoked" as const },
    };
    const sweep = { kind: "remove_revoked", member: member.signPub } as const;
    expect(spec.given([created, invited]).when(sweep).decided).toEqual(removed);
    expect(spec.given([created, invited, removed]).when(sweep).decided).toBeUndefined();
  });

  it("given a rekey to epoch 2, when another rekey names epoch 2, then conflict (the next is 3)", () => {
    const keys = { [owner.signPub]: sealed };
    const rekeyed = { type: "room.rekeyed" as const, data: { epoch: 2, sealed_keys: keys } };
    const rekey = { kind: "rekey", actor: owner, input: { epoch: 2, sealed_keys: keys } } as const;
    expect(spec.given([created, rekeyed]).refusal(rekey)).toMatchObject({ code: "conflict" });
    expect(spec.given([created]).when(rekey).decided).toEqual(rekeyed);
  });
});
