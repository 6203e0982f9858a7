import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readText, root } from "./deploy-files.ts";

// docs/security.md's threat table is held against the code: every place it says
// an attack is stopped exists (and names the symbol it points at), and every
// test it cites as proof exists under that name. A renamed test or a moved
// check makes this fail, so the table cannot silently stop being true.

interface ThreatRow {
  line: number;
  attack: string;
  stoppedIn: string[];
  provedBy: { file: string; name: string }[];
}

function threatRows(): ThreatRow[] {
  const doc = readText("docs/security.md");
  const start = doc.indexOf("\n## Threats\n");
  if (start === -1) throw new Error('docs/security.md has no "## Threats" section');
  const rows: ThreatRow[] = [];
  const lines = doc.slice(start).split("\n");
  for (const [i, line] of lines.entries()) {
    if (i > 1 && line.startsWith("## ")) break;
    const cells = line.split("|").map((c) => c.trim());
    // | attack | stopped in | proved by |
    if (cells.length !== 5 || cells[1] === "attack" || /^-+$/.test(cells[1] ?? "")) continue;
    const [, attack = "", stopped = "", proved = ""] = cells;
    rows.push({
      line: i,
      attack,
      stoppedIn: [...stopped.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string),
      provedBy: [...proved.matchAll(/`([^`]+\.test\.ts)` › "([^"]+)"/g)].map((m) => ({
        file: m[1] as string,
        name: m[2] as string,
      })),
    });
  }
  return rows;
}

const rows = threatRows();

describe("docs/security.md threat table", () => {
  it("has rows, each naming where the attack is stopped and at least one test that proves it", () => {
    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      expect(row.stoppedIn.length, `"${row.attack}" says where it is stopped`).toBeGreaterThan(0);
      expect(row.provedBy.length, `"${row.attack}" cites a test as \`file.test.ts\` › "name"`).toBeGreaterThan(0);
    }
  });

  it.each(rows.map((r) => [r.attack, r] as const))("%s: the code it names exists", (_attack, row) => {
    for (const ref of row.stoppedIn) {
      const [path = "", symbol] = ref.split("#");
      const file = join(root, path);
      expect(existsSync(file), `${path} exists`).toBe(true);
      if (symbol) expect(readFileSync(file, "utf8"), `${path} holds ${symbol}`).toContain(symbol);
    }
  });

  it.each(rows.map((r) => [r.attack, r] as const))("%s: the tests it cites exist by name", (_attack, row) => {
    for (const { file, name } of row.provedBy) {
      const path = join(root, file);
      expect(existsSync(path), `${file} exists`).toBe(true);
      expect(readFileSync(path, "utf8"), `${file} has a test named "${name}"`).toContain(`"${name}"`);
    }
  });
});
