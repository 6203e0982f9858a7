import { describe, expect, it } from "vitest";
import { compareDebianVersions, parsePackagesIndex, readArMembers } from "./debian-package.ts";

describe("Debian version ordering", () => {
  it.each([
    ["2.15.1-1", "2.10.22-1", 1],
    ["2.10.22-1", "2.15.1-1", -1],
    ["2.15.1-1", "2.15.1-1", 0],
    ["2.15.1-2", "2.15.1-1", 1],
    ["2.15.1~rc1-1", "2.15.1-1", -1],
    ["1:2.9.0-1", "2.15.1-1", 1],
    ["2.10.0", "2.10.0", 0],
    ["2.9.25-1+b1", "2.10.0", -1],
  ])("%s vs %s", (a, b, sign) => {
    expect(Math.sign(compareDebianVersions(a, b))).toBe(sign);
  });
});

describe("Packages index", () => {
  it("picks the named package's stanzas only", () => {
    const index = [
      "Package: nats-server-doc\nVersion: 9.9.9-1\nFilename: pool/x.deb\nSize: 1\nSHA256: aa",
      "Package: nats-server\nVersion: 2.15.1-1\nFilename: pool/main/n/nats-server/nats-server_2.15.1-1_amd64.deb\nSize: 5351944\nSHA256: 31ef",
    ].join("\n\n");
    expect(parsePackagesIndex(index, "nats-server", "sid")).toEqual([
      {
        name: "nats-server",
        version: "2.15.1-1",
        filename: "pool/main/n/nats-server/nats-server_2.15.1-1_amd64.deb",
        size: 5351944,
        sha256: "31ef",
        suite: "sid",
      },
    ]);
  });
});

describe("ar container", () => {
  const member = (name: string, body: string) => {
    const header = `${name.padEnd(16)}${"0".padEnd(12)}${"0".padEnd(6)}${"0".padEnd(6)}${"100644".padEnd(8)}${String(body.length).padEnd(10)}\`\n`;
    return header + body + (body.length % 2 ? "\n" : "");
  };
  it("reads members, including odd-sized ones with padding", () => {
    const ar = Buffer.from(`!<arch>\n${member("debian-binary", "2.0\n")}${member("data.tar.xz/", "abc")}`, "latin1");
    const members = readArMembers(ar);
    expect(members.get("debian-binary")?.toString()).toBe("2.0\n");
    expect(members.get("data.tar.xz")?.toString()).toBe("abc");
  });
  it("refuses what is not an ar archive", () => {
    expect(() => readArMembers(Buffer.from("PK\u0003\u0004"))).toThrow(/not an ar archive/);
  });
});
