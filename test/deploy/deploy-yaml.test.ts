import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseYaml, parseYamlDocuments, readText, root } from "./deploy-files.ts";

describe("reading the deploy files' YAML strictly", () => {
  it("rejects plain scalars that YAML 1.1 and 1.2 readers type differently", () => {
    for (const ambiguous of ["yes", "No", "on", "OFF", "0755", "1_000", "22:22", "0o17", "2024-01-02"]) {
      expect(() => parseYaml(`a: ${ambiguous}`), ambiguous).toThrow(/YAML 1.1 and 1.2 readers disagree/);
      expect(parseYaml(`a: "${ambiguous}"`)).toEqual({ a: ambiguous });
    }
  });

  it("rejects duplicate keys, unknown tags and unknown aliases", () => {
    expect(() => parseYaml("a: 1\na: 2")).toThrow(/unique/);
    expect(() => parseYaml("a: {b: 1, b: 2}")).toThrow(/unique/);
    expect(() => parseYaml("a: !custom 1")).toThrow(/tag/);
    expect(() => parseYaml("a: *nowhere")).toThrow(/alias/);
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

  it("splits documents on ---, ignoring comments before the first", () => {
    expect(parseYamlDocuments("# header\n---\na: 1\n---\nb: 2\n")).toEqual([{ a: 1 }, { b: 2 }]);
    expect(parseYamlDocuments("a: 1\n---\n")).toEqual([{ a: 1 }, null]);
    expect(() => parseYaml("a: 1\n---\nb: 2")).toThrow(/one YAML document/);
  });
});

// PyYAML is what many operators' tools use; when this machine has it, every deploy file must read exactly as
// PyYAML reads it.
const pyyaml = spawnSync("python3", ["-c", "import yaml"], { stdio: "ignore", timeout: 10_000 }).status === 0;

describe.skipIf(!pyyaml)(
  "the deploy files read the same with PyYAML (skipped where python3 + PyYAML are missing)",
  () => {
    const files = [
      "docker-compose.yml",
      ...["k8s", "nats"].flatMap((dir) =>
        readdirSync(join(root, "deploy", dir))
          .filter((f) => f.endsWith(".yaml"))
          .map((f) => `deploy/${dir}/${f}`),
      ),
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
  },
);
