import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serviceEnvSchema } from "@conclave/runtime";
import { describe, expect, it } from "vitest";
import { readText, root } from "./deploy-files.ts";

// docs/operations.md and the Grafana dashboard describe metrics and variables
// that exist: checked against the code, so the docs cannot drift from it.

/** Every Prometheus metric the services register, with its label names, read from the sources. */
function registeredMetrics(): Map<string, string[]> {
  const files = ["libs", "services"].flatMap((top) =>
    readdirSync(join(root, top)).flatMap((pkg) => sources(join(root, top, pkg, "src"))),
  );
  const metrics = new Map<string, string[]>();
  const re =
    /new (?:Counter|Gauge|Histogram|Summary)\(\{\s*name:\s*"(conclave_[a-z_]+)",[\s\S]*?labelNames:\s*\[([^\]]*)\]/g;
  for (const file of files) {
    for (const m of readFileSync(file, "utf8").matchAll(re)) {
      metrics.set(
        m[1] as string,
        [...(m[2] as string).matchAll(/"([a-z_]+)"/g)].map((l) => l[1] as string),
      );
    }
  }
  return metrics;
}

function sources(dir: string): string[] {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

const doc = readText("docs/operations.md");
const section = (heading: string) => {
  const start = doc.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`docs/operations.md has no "${heading}"`);
  const next = doc.slice(start + heading.length + 2).search(/\n#{2,3} /);
  return doc.slice(start, next === -1 ? undefined : start + heading.length + 2 + next);
};
const code = registeredMetrics();
const documented = new Map(
  [...section("## Metrics").matchAll(/^\| `(conclave_[a-z_]+)`\s*\|[^|]*\|([^|]*)\|/gm)].map((m) => [
    m[1] as string,
    [...(m[2] as string).matchAll(/`([a-z_]+)`/g)].map((l) => l[1] as string),
  ]),
);

describe("docs/operations.md", () => {
  it("finds the metrics in the code at all (the scan works)", () => {
    expect(code.size).toBeGreaterThanOrEqual(4);
    expect(code.get("conclave_http_requests_total")).toEqual(["service", "route", "method", "status_class", "outcome"]);
  });

  it("documents exactly the metrics the services register, with their labels", () => {
    expect([...documented.keys()].sort()).toEqual([...code.keys()].sort());
    for (const [name, labels] of documented) expect(labels.sort(), name).toEqual([...(code.get(name) ?? [])].sort());
  });

  it("lists every configuration variable", () => {
    const config = section("## Configuration");
    for (const variable of Object.keys(serviceEnvSchema.shape)) expect(config, variable).toContain(`\`${variable}\``);
  });
});

describe("deploy/grafana/conclave-dashboard.json", () => {
  const dashboard = JSON.parse(readText("deploy/grafana/conclave-dashboard.json")) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };

  it("queries only metrics that exist, grouped by labels they have", () => {
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(0);
    for (const { title, expr } of exprs) {
      const names = [...expr.matchAll(/\b(conclave_[a-z_]+?)(?:_bucket|_count|_sum)?(?![a-z_])/g)].map(
        (m) => m[1] as string,
      );
      expect(names.length, title).toBeGreaterThan(0);
      for (const name of names) {
        expect(code.has(name), `${title}: ${name}`).toBe(true);
        const labels = new Set([...(code.get(name) ?? []), "le", "instance"]);
        for (const by of expr.matchAll(/by \(([^)]*)\)/g)) {
          for (const label of (by[1] as string).split(",").map((l) => l.trim())) {
            expect(labels.has(label), `${title}: ${name} has no label ${label}`).toBe(true);
          }
        }
      }
    }
  });
});
