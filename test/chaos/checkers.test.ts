import { describe, expect, it } from "vitest";
import {
  checkAcknowledgedWrites,
  checkNonces,
  checkPartitionMinority,
  checkQuorumLoss,
  checkRevocations,
  type FinalState,
} from "./checkers.ts";
import {
  checkDataplaneAdmissions,
  checkDataplaneRemovals,
  dataplaneProbes,
  faultWindows,
  listeningRemovals,
} from "./dataplane-checkers.ts";
import {
  type AdmissionRecord,
  type DeliveryRecord,
  type FaultRecord,
  type MetaRecord,
  noFaults,
  type RequestRecord,
} from "./history.ts";
import { checkBudgets, checkUsageRecorded } from "./service-checkers.ts";

// The checkers must catch what they exist to catch: synthetic histories with
// one planted violation each, next to the same history without it.

const NO_FAULT = noFaults();
let nextId = 1;
function req(over: Partial<RequestRecord>): RequestRecord {
  return {
    type: "req",
    id: nextId++,
    t0: 0,
    t1: 10,
    op: "me.rooms",
    replica: "r1",
    actor: "bot",
    signer: "BOT",
    method: "GET",
    path: "/v1/me/rooms",
    summary: {},
    status: 200,
    nonce: `n${nextId}`,
    fault: NO_FAULT,
    ...over,
  };
}
const fault = (t: number, action: FaultRecord["action"]): FaultRecord => ({
  type: "fault",
  t,
  episode: 1,
  kind: "quorum",
  action,
  target: ["n2", "n3"],
});
const OPTS = { revokeBoundMs: 0, windowMarginMs: 250 };
const final = (events: FinalState["events"], users?: FinalState["users"]): FinalState => ({
  events,
  ...(users ? { users } : {}),
  projectionDiffs: {},
  projectionLag: {},
});

describe("quorum-loss checker", () => {
  const window = [fault(1_000, "inject"), fault(9_000, "restore")];
  it("fails on a 2xx sent and answered inside the window, and on a handler's 404 (auth passed)", () => {
    expect(checkQuorumLoss([...window, req({ t0: 2_000, t1: 3_000, status: 200 })], OPTS).verdict).toBe("FAIL");
    expect(checkQuorumLoss([...window, req({ t0: 2_000, t1: 3_000, status: 404 })], OPTS).verdict).toBe("FAIL");
  });
  it("passes 503s and 401s inside, and does not judge requests across either edge", () => {
    const history = [
      ...window,
      req({ t0: 2_000, t1: 3_000, status: 503 }),
      req({ t0: 2_000, t1: 4_000, status: 401 }),
      req({ t0: 900, t1: 2_000, status: 200 }), // sent before the loss
      req({ t0: 1_100, t1: 1_200, status: 200 }), // inside the margin
      req({ t0: 8_000, t1: 9_500, status: 200 }), // answered after the restart began
    ];
    const result = checkQuorumLoss(history, OPTS);
    expect([result.verdict, result.checked]).toEqual(["PASS", 2]);
  });
  it("is N/A, not PASS, when no request fell inside", () => {
    expect(checkQuorumLoss(window, OPTS).verdict).toBe("N/A");
  });
});

describe("nonce checker", () => {
  it("fails when two sends of one nonce get past authentication (a 409 on a replayed add counts)", () => {
    const a = req({ nonce: "x", status: 201, op: "user.add" });
    const b = req({ nonce: "x", status: 409, op: "replay.user.add", replayOf: a.id });
    expect(checkNonces([a, b]).verdict).toBe("FAIL");
  });
  it("passes a replay accepted after its original was refused before the claim", () => {
    const a = req({ nonce: "y", status: 503 });
    const b = req({ nonce: "y", status: 200, replayOf: a.id });
    const c = req({ nonce: "z", status: 200 });
    const d = req({ nonce: "z", status: 401, error: "unauthorized/replay", replayOf: c.id });
    expect(checkNonces([a, b, c, d]).verdict).toBe("PASS");
  });
});

describe("revocation checker", () => {
  const revoke = req({ op: "user.revoke", signer: "ADMIN", summary: { user: "BOT" }, t0: 100, t1: 200 });
  it("fails on a request by the revoked user sent after the revocation returned", () => {
    expect(checkRevocations([revoke, req({ t0: 201, t1: 250, status: 200 })], OPTS).verdict).toBe("FAIL");
  });
  it("ignores requests sent before the revocation returned", () => {
    const r = checkRevocations([revoke, req({ t0: 150, t1: 300, status: 200 }), req({ t0: 300, status: 401 })], OPTS);
    expect([r.verdict, r.checked]).toEqual(["PASS", 1]);
  });
});

describe("acknowledged-writes checker", () => {
  const add = req({ op: "user.add", status: 201, summary: { user: "U1" }, t0: 0, t1: 10 });
  const added = { seq: 5, type: "user.added", aggregate: "U1", actor: "ADMIN", data: {} };
  it("fails when an acknowledged user add is missing from the log or from the API", () => {
    expect(checkAcknowledgedWrites([add], final([]))[0]?.verdict).toBe("FAIL");
    expect(checkAcknowledgedWrites([add], final([added], {}))[0]?.verdict).toBe("FAIL");
    expect(checkAcknowledgedWrites([add], final([added], { U1: { status: "active" } }))[0]?.verdict).toBe("PASS");
  });
  it("fails when a room write's answer disagrees with the log, or the log reorders acknowledged writes", () => {
    const events = [
      { seq: 1, type: "room.created", aggregate: "r", actor: "O", data: { owner: "O", mode: "e2e" } },
      { seq: 2, type: "room.member_invited", aggregate: "r", actor: "O", data: { member: "M", sealed_key: "K" } },
    ];
    const create = req({ op: "room.create", signer: "O", status: 201, summary: { room: "r" }, t0: 0, t1: 10 });
    const invite = (ack: unknown, t0 = 20) =>
      req({
        op: "room.invite",
        signer: "O",
        status: 201,
        summary: { room: "r", member: "M", sealed: "K" },
        ack,
        t0,
        t1: t0 + 10,
      });
    const right = { epoch: 1, keyed_epoch: 1, members: 2 };
    expect(checkAcknowledgedWrites([create, invite(right)], final(events))[0]?.verdict).toBe("PASS");
    expect(checkAcknowledgedWrites([create, invite({ ...right, members: 3 })], final(events))[0]?.verdict).toBe("FAIL");
    const swapped = events.map((e) => ({ ...e, seq: 3 - e.seq }));
    expect(checkAcknowledgedWrites([create, invite(right)], final(swapped))[1]?.verdict).toBe("FAIL");
  });
});

describe("partition checker", () => {
  const at = (t: number, attached: Record<string, string>) => ({ ts: t, te: t + 5, attached });
  const cut: FaultRecord = {
    type: "fault",
    t: 1_000,
    episode: 2,
    kind: "partition",
    action: "inject",
    target: ["n3"],
    detail: { attached: { r1: "n3", r2: "n1" } },
  };
  // r1 sits on the isolated n3 until about 2.0 s, then its connection moves to n2.
  const heal: FaultRecord = {
    ...cut,
    t: 9_000,
    action: "restore",
    detail: {
      attached: { r1: "n2", r2: "n1" },
      timeline: [
        at(1_250, { r1: "n3", r2: "n1" }),
        at(2_000, { r1: "n3", r2: "n1" }),
        at(2_250, { r1: "n2", r2: "n1" }),
      ],
    },
  };
  const through = (replica: string, t0: number, t1: number, status: number) =>
    req({ op: "room.get", replica, t0, t1, status });
  it("fails when a replica still on the cut-off node accepts a request", () => {
    const history = [cut, through("r1", 1_300, 1_900, 200), heal];
    expect(checkPartitionMinority(history, OPTS).verdict).toBe("FAIL");
  });
  it("does not judge requests after the replica left the node, nor through replicas elsewhere", () => {
    const history = [
      cut,
      through("r1", 1_300, 1_900, 503),
      through("r1", 2_300, 2_400, 200),
      through("r1", 1_900, 2_300, 200), // straddles the move
      through("r2", 1_300, 1_900, 200),
      heal,
    ];
    const verdict = checkPartitionMinority(history, OPTS);
    expect(verdict.verdict).toBe("PASS");
    expect(verdict.checked).toBe(1);
  });
});

describe("budget checker", () => {
  const sample = (used: number, reserved: number) =>
    req({
      op: "budget.get",
      ack: {
        limits: { input: 100, output: 100 },
        used: { input: used, output: 0 },
        reserved: { input: reserved, output: 0 },
      },
    });
  it("fails when recorded plus reserved usage exceeds the limit in any sample", () => {
    expect(checkBudgets([sample(60, 30)], final([])).verdict).toBe("PASS");
    expect(checkBudgets([sample(60, 50)], final([])).verdict).toBe("FAIL");
  });
  it("fails when acknowledged calls used more than the ledger recorded and still reserves", () => {
    const call = (input: number) => req({ op: "rpc.call", status: 200, ack: { usage: { input, output: 1 } } });
    const ended = (used: number, reserved: number): FinalState => ({
      ...final([]),
      budget: {
        limits: { input: 100, output: 100 },
        used: { input: used, output: 2 },
        reserved: { input: reserved, output: 0 },
      },
    });
    const calls = [call(20), call(15)];
    expect(checkUsageRecorded(calls, ended(35, 0)).verdict).toBe("PASS");
    // Over-counted (a lease charged at its estimate): allowed.
    expect(checkUsageRecorded(calls, ended(50, 0)).verdict).toBe("PASS");
    // A settle still pending at the end is in `reserved`: not lost.
    expect(checkUsageRecorded(calls, ended(20, 20)).verdict).toBe("PASS");
    // An acknowledged call whose usage the ledger lost.
    expect(checkUsageRecorded(calls, ended(20, 0)).verdict).toBe("FAIL");
  });
});

describe("data-plane checkers", () => {
  const DP = { dataplaneBoundMs: 1_000, revokeBoundMs: 0 };
  const removal = req({ op: "room.remove", t0: 900, t1: 1_000, summary: { room: "r1", member: "V" } });
  const revocation = req({ op: "user.revoke", t0: 900, t1: 1_000, summary: { user: "X" } });
  const added = (user: string) => req({ op: "user.add", t0: 0, t1: 100, summary: { user } });
  const delivery = (bot: string, publishedAt: number, room = "r1"): DeliveryRecord => ({
    type: "delivery",
    bot,
    room,
    publishedAt,
    receivedAt: publishedAt + 5,
  });
  const admission = (bot: string, t0: number, admitted = true): AdmissionRecord => ({
    type: "admission",
    bot,
    t0,
    t1: t0 + 20,
    admitted,
  });

  it("fails on a delivery published past the bound after a removal's or a revocation's 2xx", () => {
    expect(checkDataplaneRemovals([removal, delivery("V", 2_001)], DP).verdict).toBe("FAIL");
    expect(checkDataplaneRemovals([revocation, delivery("X", 2_500, "r7")], DP).verdict).toBe("FAIL");
  });
  it("passes deliveries within the bound, to others, on other rooms, and after a re-invite was sent", () => {
    const reinvite = req({ op: "room.invite", t0: 1_500, t1: 1_600, summary: { room: "r1", member: "V" } });
    const history = [
      removal,
      revocation,
      delivery("V", 1_999),
      delivery("W", 5_000),
      delivery("V", 5_000, "r2"),
      reinvite,
      delivery("V", 3_000),
    ];
    expect(checkDataplaneRemovals(history, DP).verdict).toBe("PASS");
  });
  it("fails on an admission of a never-registered key and of a key after its revocation", () => {
    expect(checkDataplaneAdmissions([added("A"), admission("M", 500)], DP).verdict).toBe("FAIL");
    expect(checkDataplaneAdmissions([added("X"), revocation, admission("X", 1_001)], DP).verdict).toBe("FAIL");
  });
  it("passes admissions of registered keys before a revocation, and refusals of anyone", () => {
    const history = [
      added("X"),
      revocation,
      admission("X", 500),
      admission("X", 1_500, false),
      admission("M", 10, false),
    ];
    expect(checkDataplaneAdmissions(history, DP).verdict).toBe("PASS");
  });

  // A removal whose bound overlaps a fault is judged against the admission lifetime (10 s here).
  const UNDER = { ...DP, admissionLifetimeMs: 10_000, faultSettleMs: 1_000 };
  const paused = (inject: number, recovered: number): FaultRecord[] => [
    { ...fault(inject, "inject"), kind: "pause" },
    { ...fault(recovered, "recovered"), kind: "pause" },
  ];
  it("judges a removal under a fault against the admission lifetime, or the fault's end if later", () => {
    // Pause from 1.2 s to 4 s (+1 s settle): the lifetime ends at 11 s, +1 s bound.
    const during = [removal, ...paused(1_200, 4_000)];
    expect(checkDataplaneRemovals([...during, delivery("V", 11_900)], UNDER).verdict).toBe("PASS");
    expect(checkDataplaneRemovals([...during, delivery("V", 12_100)], UNDER).verdict).toBe("FAIL");
    // A fault longer than the lifetime: until its recovery (20 s) + settle + bound.
    const long = [revocation, ...paused(1_500, 20_000)];
    expect(checkDataplaneRemovals([...long, delivery("X", 21_900, "r7")], UNDER).verdict).toBe("PASS");
    expect(checkDataplaneRemovals([...long, delivery("X", 22_100, "r7")], UNDER).verdict).toBe("FAIL");
  });
  it("keeps the plain bound for a removal clear of every fault window", () => {
    // The fault ends (with its settle) before the 2xx; the next one starts after the bound.
    const clear = [...paused(-5_000, -2_000), removal, { ...fault(2_600, "inject"), episode: 2 }];
    expect(checkDataplaneRemovals([...clear, delivery("V", 2_001)], UNDER).verdict).toBe("FAIL");
    expect(checkDataplaneRemovals([...clear, delivery("V", 1_999)], UNDER).verdict).toBe("PASS");
    // A fault with no recovery record is open to the end.
    expect(faultWindows([fault(5_000, "inject")], 1_000)).toEqual([
      { episode: 1, kind: "quorum", from: 4_500, to: Number.POSITIVE_INFINITY },
    ]);
  });
  it("counts a user added by a replay as registered (the original was refused before its claim)", () => {
    const replayed = req({ op: "replay.user.add", t0: 0, t1: 100, status: 201, summary: { user: "R" } });
    expect(checkDataplaneAdmissions([replayed, admission("R", 500)], DP).verdict).toBe("PASS");
    expect(dataplaneProbes([replayed, admission("R", 500)]).unregistered).toBe(0);
  });
  it("counts the bootstrap's users (meta) as registered, and nobody else", () => {
    const meta: MetaRecord = { type: "meta", t: 0, registered: ["B"] };
    expect(checkDataplaneAdmissions([meta, admission("B", 500)], DP).verdict).toBe("PASS");
    expect(checkDataplaneAdmissions([meta, admission("C", 500)], DP).verdict).toBe("FAIL");
    expect(dataplaneProbes([meta, added("X"), revocation, admission("B", 1), admission("C", 1, false)])).toEqual({
      unregistered: 1,
      revoked: 0,
    });
    expect(dataplaneProbes([added("X"), revocation, admission("X", 1_001, false)]).revoked).toBe(1);
  });
  it("counts removals and revocations of bots that were listening (heard something before the 2xx)", () => {
    const heard = (bot: string, at: number, room = "r1"): DeliveryRecord => ({
      ...delivery(bot, at, room),
      receivedAt: at,
    });
    expect(listeningRemovals([removal, revocation, heard("V", 900), heard("X", 950, "r9")], UNDER)).toEqual({
      removals: 1,
      revocations: 1,
      plainBound: 2,
    });
    // Heard only after the 2xx, or on another room: not listening when removed.
    expect(listeningRemovals([removal, revocation, heard("V", 900, "r2"), heard("X", 1_100)], UNDER)).toEqual({
      removals: 0,
      revocations: 0,
      plainBound: 0,
    });
    // Under a fault: judged, but not against the plain bound.
    const during = [removal, heard("V", 900), ...paused(1_200, 4_000)];
    expect(listeningRemovals(during, UNDER)).toEqual({ removals: 1, revocations: 0, plainBound: 0 });
  });
});
