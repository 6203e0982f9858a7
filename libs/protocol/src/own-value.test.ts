import { describe, expect, it } from "vitest";
import { ownValue } from "./own-value.ts";

describe("ownValue", () => {
  const parsed = JSON.parse('{"__proto__": {"role": "owner"}, "alice": {"role": "member"}}') as Record<
    string,
    { role: string }
  >;
  const plain: Record<string, { role: string }> = { alice: { role: "member" } };

  it.each(["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"])(
    "%s is found only as an own key",
    (key) => {
      expect(ownValue(plain, key)).toBeUndefined();
      if (key === "__proto__") expect(ownValue(parsed, key)).toEqual({ role: "owner" });
      else expect(ownValue(parsed, key)).toBeUndefined();
    },
  );

  it("finds own keys", () => {
    expect(ownValue(plain, "alice")).toEqual({ role: "member" });
  });
});
