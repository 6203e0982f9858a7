/** Human tables or JSON, one place for both. */
export interface Output {
  json: boolean;
  print(value: unknown, columns?: string[]): void;
  note(line: string): void;
}

export function output(json: boolean): Output {
  return {
    json,
    print(value, columns) {
      if (json) {
        process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
        return;
      }
      const rows = Array.isArray(value) ? value : [value];
      if (rows.length === 0) {
        process.stdout.write("(none)\n");
        return;
      }
      const cols = columns ?? Object.keys(rows[0] as object);
      const cell = (v: unknown) =>
        v === undefined || v === null ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
      const widths = cols.map((c) =>
        Math.max(c.length, ...rows.map((r) => cell((r as Record<string, unknown>)[c]).length)),
      );
      const line = (vals: string[]) =>
        vals
          .map((v, i) => v.padEnd(widths[i] ?? 0))
          .join("  ")
          .trimEnd();
      process.stdout.write(`${line(cols.map((c) => c.toUpperCase()))}\n`);
      for (const r of rows) process.stdout.write(`${line(cols.map((c) => cell((r as Record<string, unknown>)[c])))}\n`);
    },
    note(line) {
      if (!json) process.stderr.write(`${line}\n`);
    },
  };
}
