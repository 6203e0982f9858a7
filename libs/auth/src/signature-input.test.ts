import { describe, expect, it } from "vitest";
import {
  MAX_COVERED_COMPONENTS,
  MAX_SIGNATURE_HEADER_LENGTH,
  MAX_SIGNATURE_LABELS,
  parseSignature,
  parseSignatureHeaders,
  parseSignatureInput,
} from "./signature-input.ts";

const labels = (n: number) => Array.from({ length: n }, (_, i) => `s${i}=("@method")`).join(", ");
const components = (n: number) => `sig1=(${Array.from({ length: n }, (_, i) => `"x-${i}"`).join(" ")})`;
const sig = `sig1=:${Buffer.alloc(64).toString("base64")}:`;

describe("parseSignatureInput", () => {
  it("keeps labels, components and parameters in received order", () => {
    const [a, b] = parseSignatureInput(`b=("@path" "@method");keyid="k";created=2, a=();created=1`);
    expect(a?.label).toBe("b");
    expect(a?.components).toEqual(["@path", "@method"]);
    expect([...(a?.params ?? new Map())]).toEqual([
      ["keyid", "k"],
      ["created", 2],
    ]);
    expect(b?.components).toEqual([]);
  });

  it("accepts exactly the caps", () => {
    expect(parseSignatureInput(labels(MAX_SIGNATURE_LABELS))).toHaveLength(MAX_SIGNATURE_LABELS);
    expect(parseSignatureInput(components(MAX_COVERED_COMPONENTS))[0]?.components).toHaveLength(32);
    const padded = `sig1=();nonce="${"n".repeat(MAX_SIGNATURE_HEADER_LENGTH - 16)}"`;
    expect(padded).toHaveLength(MAX_SIGNATURE_HEADER_LENGTH);
    expect(parseSignatureInput(padded)).toHaveLength(1);
  });

  it.each([
    [
      "a header over 8 KiB",
      `sig1=();nonce="${"n".repeat(MAX_SIGNATURE_HEADER_LENGTH - 15)}"`,
      "malformed_signature_input",
    ],
    ["more than 8 labels", labels(MAX_SIGNATURE_LABELS + 1), "malformed_signature_input"],
    ["more than 32 components", components(MAX_COVERED_COMPONENTS + 1), "malformed_signature_input"],
    ["an empty header", "", "malformed_signature_input"],
    ["a member that is not an inner list", `sig1="@method"`, "malformed_signature_input"],
    ["a component that is a token", "sig1=(method)", "malformed_signature_input"],
    ["a component with an RFC 9651 parameter", `sig1=("@query-param";name=%"a")`, "malformed_signature_input"],
    ["a component name with a ';'", `sig1=("a;b")`, "malformed_signature_input"],
    ["an RFC 9651 date parameter", "sig1=();created=@1700000000", "malformed_signature_input"],
    ["an RFC 9651 display string parameter", `sig1=();nonce=%"x"`, "malformed_signature_input"],
    ["a syntax error", "sig1=(", "malformed_signature_input"],
  ])("%s is rejected", (_name, header, reason) => {
    expect(() => parseSignatureInput(header)).toThrow(expect.objectContaining({ reason }));
  });
});

describe("component parameters", () => {
  it("are kept with their component, serialized as in the header (judged by the base builder)", () => {
    const [input] = parseSignatureInput(`sig1=("@query-param";name="a" "content-digest";key="sha-256" "x";sf)`);
    expect(input?.components).toEqual(['@query-param;name="a"', 'content-digest;key="sha-256"', "x;sf"]);
  });
});

describe("parseSignature", () => {
  it("decodes each label's byte sequence", () => {
    expect(parseSignature(sig).get("sig1")).toHaveLength(64);
  });

  it.each([
    ["a string instead of bytes", `sig1="AAAA"`],
    ["a parameterized member", `${sig};x=1`],
    ["an inner list", "sig1=(:AAAA:)"],
    ["more than 8 labels", Array.from({ length: 9 }, (_, i) => `s${i}=:AAAA:`).join(", ")],
    ["a header over 8 KiB", `sig1=:${"A".repeat(MAX_SIGNATURE_HEADER_LENGTH)}:`],
  ])("%s is rejected", (_name, header) => {
    expect(() => parseSignature(header)).toThrow(expect.objectContaining({ reason: "malformed_signature" }));
  });
});

describe("parseSignatureHeaders", () => {
  it("tells an unsigned request from a half-signed one", () => {
    const check = (input: string | undefined, signature: string | undefined) => () =>
      parseSignatureHeaders(input, signature);
    expect(check(undefined, undefined)).toThrow(expect.objectContaining({ reason: "missing_signature" }));
    expect(check(undefined, sig)).toThrow(expect.objectContaining({ reason: "malformed_signature_input" }));
    expect(check("sig1=()", undefined)).toThrow(expect.objectContaining({ reason: "malformed_signature" }));
  });
});
