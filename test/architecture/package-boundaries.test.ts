import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { projectRoot } from "@conclave/testkit";
import { describe, expect, it } from "vitest";

// docs/architecture.md's dependency table is the rule; the imports are the facts; package.json declares them.
// Checked against each other, so none can drift from the other two.

const root = projectRoot();

interface Row {
  dir: string;
  allowed: string[];
}

/** The rows of the "may import" table whose package is a directory under libs/ or services/. */
function dependencyTable(): Row[] {
  const doc = readFileSync(join(root, "docs/architecture.md"), "utf8");
  const section = doc.slice(doc.indexOf("## Packages and the direction of dependencies"));
  const rows: Row[] = [];
  for (const line of section.split("\n").slice(1)) {
    if (line.startsWith("## ")) break;
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`((?:libs|services)\/[^`]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!name) continue;
    const allowed = [...(cells[3] ?? "").matchAll(/`([a-z]+)`/g)].map((m) => m[1] as string);
    for (const dir of expandBraces(name)) rows.push({ dir, allowed });
  }
  return rows;
}

/** `services/{a,b}` → services/a, services/b. */
function expandBraces(name: string): string[] {
  const m = /^(.*)\{([^}]+)\}(.*)$/.exec(name);
  return m ? (m[2] as string).split(",").map((part) => `${m[1]}${part}${m[3]}`) : [name];
}

function tsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)"([^"]+)"/g;

/** The @conclave/* packages a package's code imports, and any relative import that leaves the package. */
function importsOf(dir: string): { packages: Set<string>; escapes: string[] } {
  const packageDir = join(root, dir);
  const packages = new Set<string>();
  const escapes: string[] = [];
  for (const file of [...tsFiles(join(packageDir, "src")), ...tsFiles(join(packageDir, "test-support"))]) {
    for (const m of readFileSync(file, "utf8").matchAll(IMPORT)) {
      const spec = m[1] as string;
      const ours = /^@conclave\/([a-z]+)/.exec(spec);
      if (ours) packages.add(ours[1] as string);
      else if (spec.startsWith(".") && relative(packageDir, resolve(dirname(file), spec)).startsWith("..")) {
        escapes.push(`${relative(root, file)} → ${spec}`);
      }
    }
  }
  return { packages, escapes };
}

function declared(dir: string): { name: string; version: string; deps: Record<string, string> } {
  const pkg = JSON.parse(readFileSync(join(root, dir, "package.json"), "utf8"));
  return { name: pkg.name, version: pkg.version, deps: { ...pkg.dependencies } };
}

const rows = dependencyTable();
const shortName = (dir: string) => dir.split("/")[1] as string;
const versionOf = new Map(rows.map((r) => [shortName(r.dir), declared(r.dir).version]));

describe("package boundaries (docs/architecture.md)", () => {
  it("the table names every package under libs/ and services/, each once", () => {
    const onDisk = ["libs", "services"].flatMap((top) =>
      readdirSync(join(root, top))
        .filter((d) => existsSync(join(root, top, d, "package.json")))
        .map((d) => `${top}/${d}`),
    );
    expect(rows.map((r) => r.dir).sort()).toEqual(onDisk.sort());
  });

  it.each(rows)("$dir imports only what its row allows, from inside itself", ({ dir, allowed }) => {
    const { packages, escapes } = importsOf(dir);
    const forbidden = [...packages].filter((p) => p !== shortName(dir) && !allowed.includes(p));
    expect(forbidden, `${dir} imports packages its row does not allow`).toEqual([]);
    expect(packages.has(shortName(dir)), `${dir} imports itself by name`).toBe(false);
    expect(escapes, `${dir} reaches into another package by path`).toEqual([]);
    for (const name of allowed) expect(versionOf.has(name), `row ${dir} names unknown package ${name}`).toBe(true);
  });

  it.each(rows)("$dir declares exactly the @conclave packages it imports, at the workspace version", ({ dir }) => {
    const { packages } = importsOf(dir);
    const { name, deps } = declared(dir);
    expect(name).toBe(`@conclave/${shortName(dir)}`);
    const ours = Object.fromEntries(Object.entries(deps).filter(([d]) => d.startsWith("@conclave/")));
    const expected = Object.fromEntries(
      [...packages].sort().map((p) => [`@conclave/${p}`, versionOf.get(p) ?? "(not a workspace package)"]),
    );
    expect(ours).toEqual(expected);
  });
});
