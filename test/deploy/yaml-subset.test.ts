import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readText, root } from "./deploy-files.ts";
import { parseYaml, parseYamlDocuments, YamlSubsetError } from "./yaml-subset.ts";

describe("the YAML subset parser", () => {
  it("rejects plain scalars that YAML 1.1 and 1.2 readers type differently", () => {
    for (const ambiguous of ["yes", "No", "on", "OFF", "0755", "1_000", "22:22", "1e3", "0x1F", ".inf", "2024-01-02"]) {
      expect(() => parseYaml(`a: ${ambiguous}`), ambiguous).toThrow(YamlSubsetError);
      expect(parseYaml(`a: "${ambiguous}"`)).toEqual({ a: ambiguous });
    }
  });

  it("rejects what it does not implement instead of guessing", () => {
    expect(() => parseYaml("a: |\n  text")).toThrow(/block scalars/);
    expect(() => parseYaml("a: !!str 1")).toThrow(YamlSubsetError);
    expect(() => parseYaml("a: [1,\n  2]")).toThrow(/multi-line flow/);
    expect(() => parseYaml("? a\n: b")).toThrow(YamlSubsetError);
    expect(() => parseYaml("a:\n\tb: 1")).toThrow(/tab/);
    expect(() => parseYaml("a: *nowhere")).toThrow(/unknown alias/);
  });

  it("rejects duplicate keys, which readers resolve differently", () => {
    expect(() => parseYaml("a: 1\na: 2")).toThrow(/duplicate key a/);
    expect(() => parseYaml("a: {b: 1, b: 2}")).toThrow(/duplicate key b/);
  });

  it("rejects bad indentation", () => {
    expect(() => parseYaml("a:\n  b: 1\n    c: 2")).toThrow(YamlSubsetError);
    expect(() => parseYaml("a:\n  - x\n  b: y")).toThrow(YamlSubsetError);
  });

  it("reads anchors, aliases and merge keys, explicit keys winning", () => {
    const doc = parseYaml(
      [
        "base: &base",
        "  image: x",
        "  replicas: 1",
        "env: &env {A: '1'}",
        "svc:",
        "  <<: *base",
        "  replicas: 2",
        '  environment: { <<: *env, B: "2" }',
      ].join("\n"),
    );
    expect(doc).toEqual({
      base: { image: "x", replicas: 1 },
      env: { A: "1" },
      svc: { image: "x", replicas: 2, environment: { A: "1", B: "2" } },
    });
  });

  it("reads compact mappings in sequences, sequences at their key's indent, and comments", () => {
    const doc = parseYaml(
      [
        "items: # the list",
        "- name: a # first",
        "  port: 80",
        "-   name: 'it''s'",
        "    url: nats://n1:4222#x",
        "empty:",
        "flags: [true, false, null, -3, 1.5]",
      ].join("\n"),
    );
    expect(doc).toEqual({
      items: [
        { name: "a", port: 80 },
        { name: "it's", url: "nats://n1:4222#x" },
      ],
      empty: null,
      flags: [true, false, null, -3, 1.5],
    });
  });

  it("splits documents on ---, ignoring comments before the first", () => {
    expect(parseYamlDocuments("# header\n---\na: 1\n---\nb: 2\n")).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseYamlDocuments("a: 1\n---\n")).toEqual([{ a: 1 }, null]);
  });

  it("decodes double-quoted escapes", () => {
    expect(parseYaml('a: "x\\"y\\\\z\\n\\u00e9"')).toEqual({ a: 'x"y\\z\né' });
  });
});

// PyYAML is what many operators' tools use; when this machine has it, the
// subset parser must read every deploy file exactly as PyYAML does.
const pyyaml = spawnSync("python3", ["-c", "import yaml"], { stdio: "ignore", timeout: 10_000 }).status === 0;

describe.skipIf(!pyyaml)("the subset parser agrees with PyYAML (skipped where python3 + PyYAML are missing)", () => {
  const files = [
    "docker-compose.yml",
    ...readdirSync(join(root, "deploy", "k8s"))
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => `deploy/k8s/${f}`),
  ];
  it.each(files)("%s", (file) => {
    const text = readText(file);
    const py = spawnSync(
      "python3",
      ["-c", "import sys, json, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))"],
      { input: text, encoding: "utf8", timeout: 10_000 },
    );
    expect(py.status, py.stderr).toBe(0);
    expect(JSON.parse(JSON.stringify(parseYamlDocuments(text)))).toEqual(JSON.parse(py.stdout));
  });
});
