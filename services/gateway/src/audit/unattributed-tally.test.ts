import { describe, expect, it } from "vitest";
import type { AuditDraft } from "./audit-trail.ts";
import { MAX_TALLY_KINDS, UnattributedTally } from "./unattributed-tally.ts";

const draft = (over: Partial<AuditDraft>): AuditDraft => ({
  tenant: null,
  subject: null,
  credential: "signed",
  jti: null,
  route: "GET /v1/budget",
  method: null,
  outcome: "auth_denied",
  status: 401,
  reason: "unknown_signer",
  request_id: "r",
  instance: "i",
  usage: null,
  ...over,
});

describe("tally of unattributed answers", () => {
  it("counts per kind (credential, outcome, status, reason), whatever the route or request", () => {
    const tally = new UnattributedTally();
    for (let i = 0; i < 300; i++) tally.add(draft({ route: `GET /v1/x${i}`, request_id: `r${i}` }));
    for (let i = 0; i < 7; i++)
      tally.add(draft({ credential: "none", outcome: "rate_limited", status: 429, reason: "ip_rate" }));
    expect(tally.take()).toEqual([
      { kind: { credential: "signed", outcome: "auth_denied", status: 401, reason: "unknown_signer" }, count: 300 },
      { kind: { credential: "none", outcome: "rate_limited", status: 429, reason: "ip_rate" }, count: 7 },
    ]);
    expect(tally.take()).toEqual([]);
  });

  it(`keeps at most ${MAX_TALLY_KINDS} kinds a window: the rest are counted as other`, () => {
    const tally = new UnattributedTally();
    for (let i = 0; i < MAX_TALLY_KINDS + 50; i++) tally.add(draft({ reason: `r${i}` }));
    const kinds = tally.take();
    expect(kinds).toHaveLength(MAX_TALLY_KINDS + 1);
    expect(kinds.at(-1)).toEqual({
      kind: { credential: "none", outcome: "auth_denied", status: 401, reason: "other" },
      count: 50,
    });
  });
});
