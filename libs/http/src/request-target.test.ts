import { describe, expect, it } from "vitest";
import { requestTargetProblem } from "./request-target.ts";

describe("request targets the router could read differently from the verifier", () => {
  it.each([
    ["/v1/audit#tenant=x", /fragment/],
    ["/v1/audit?#tenant=x", /fragment/],
    ["/v1/audit?a=1#b", /fragment/],
    ["http://evil/v1/audit?tenant=x", /origin-form/],
    ["*", /origin-form/],
    ["v1/audit", /origin-form/],
    ["//v1/audit", /doubled slashes/],
    ["/v1//audit", /doubled slashes/],
    ["/v1/./audit", /dot segments/],
    ["/v1/x/../audit", /dot segments/],
    ["/v1/rooms/%2e%2E", /dot segments/],
    ["/v1/rooms/..", /dot segments/],
    ["/v1/audit;tenant=x", /';'/],
    ["/v1/rooms/a%2Fb", /delimiter/],
    ["/v1/rooms/a%3fb", /delimiter/],
    ["/v1/rooms/a%23b", /delimiter/],
    ["/v1/rooms/a%3Bb", /delimiter/],
    ["/v1/rooms/a%00", /delimiter/],
    ["/v1/rooms/a\\b", /backslash/],
    ["/v1/rooms/a%zz", /percent/],
    ["/v1/audit?tenant=%", /percent/],
  ])("%s is refused", (target, message) => {
    expect(requestTargetProblem(target)).toMatch(message);
  });

  it.each([
    "/v1/audit",
    "/v1/audit?",
    "/v1/audit?tenant=acme&limit=10",
    "/v1/audit?q=a;b&r=%23&s=?",
    "/v1/rooms/a.b",
    "/v1/rooms/..a",
    "/v1/rooms/%61",
    "/v1/blobs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "/",
  ])("%s is taken as sent", (target) => {
    expect(requestTargetProblem(target)).toBeUndefined();
  });
});
