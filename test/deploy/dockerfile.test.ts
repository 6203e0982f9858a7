import { describe, expect, it } from "vitest";
import { SERVICES } from "../../deploy/docker/service-bundle.ts";
import { asList, loadCompose, readText } from "./deploy-files.ts";

// The Dockerfile, read as text (no engine here to build it; docker-engine.test.ts
// runs `docker build --check` where one exists).
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Instructions grouped by stage, continuation lines joined and comments dropped. */
function stages(dockerfile: string): { args: Record<string, string>; stages: Stage[] } {
  const logical: string[] = [];
  let pending = "";
  for (const line of dockerfile.split("\n")) {
    if (/^\s*#/.test(line)) continue;
    const continued = /\\\s*$/.test(line);
    pending += `${line.replace(/\\\s*$/, "")} `;
    if (!continued) {
      if (pending.trim()) logical.push(pending.trim());
      pending = "";
    }
  }
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const text of logical) {
    const [op = "", ...rest] = text.split(/\s+/);
    const instruction = { op: op.toUpperCase(), args: rest.join(" ") };
    if (instruction.op === "FROM") {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      out.push({ from: m?.[1] ?? "", name: m?.[2] ?? String(out.length), instructions: [] });
    } else if (out.length === 0 && instruction.op === "ARG") {
      const [k, v] = instruction.args.split("=");
      args[k as string] = v ?? "";
    } else {
      out.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages: out };
}

const { args, stages: all } = stages(readText("Dockerfile"));
const final = all.at(-1) as Stage;
const stage = (name: string) => all.find((s) => s.name === name) as Stage;
const runs = (s: Stage) => s.instructions.filter((i) => i.op === "RUN").map((i) => i.args);
const user = (s: Stage) => s.instructions.filter((i) => i.op === "USER").at(-1)?.args;

describe("Dockerfile", () => {
  it("has no `# syntax=` line (BuildKit would pull a frontend image first, and fail without a registry)", () => {
    expect(readText("Dockerfile")).not.toMatch(/^#\s*syntax\s*=/im);
  });

  it("is multi-stage and ends with the service runtime", () => {
    expect(all.length).toBeGreaterThan(2);
    expect(final.name).toBe("runtime");
  });

  it("bases every stage on one pinned Node image of an LTS line at or above what the dependencies want (22)", () => {
    const image = args.NODE_IMAGE as string;
    expect(image).toMatch(/^node:\d+\.\d+\.\d+-[a-z]+-slim$/);
    const major = Number(image.split(":")[1]?.split(".")[0]);
    // Even majors are the LTS lines; 24 is the one the container suite boots (Debian's nodejs).
    expect(major % 2).toBe(0);
    expect(major).toBeGreaterThanOrEqual(22);
    const bases = new Set(all.map((s) => s.from).filter((f) => !all.some((o) => o.name === f)));
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile ARG reference, not a template
    expect(bases).toEqual(new Set(["${NODE_IMAGE}"]));
  });

  it("runs the final stage as a non-root user, in production mode, with a readiness healthcheck", () => {
    expect(user(final)).toBeDefined();
    expect(["root", "0", "0:0", "root:root"]).not.toContain(user(final));
    const env = final.instructions
      .filter((i) => i.op === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).toMatch(/\bNODE_ENV=production\b/);
    const healthcheck = final.instructions.find((i) => i.op === "HEALTHCHECK")?.args;
    expect(healthcheck).toContain("/readyz");
  });

  it("installs nothing in the final stage and copies node_modules only from a production-only install", () => {
    expect(runs(final)).toEqual([]);
    const copies = final.instructions.filter((i) => i.op === "COPY");
    for (const copy of copies) {
      const from = /--from=(\S+)/.exec(copy.args)?.[1];
      expect(from, `${copy.args}: only built artefacts, never the build context`).toBeDefined();
      if (copy.args.includes("node_modules")) {
        const installs = runs(stage(from as string)).filter((r) => /\bnpm (ci|install)\b/.test(r));
        expect(installs.length, from).toBeGreaterThan(0);
        for (const install of installs) expect(install, from).toMatch(/--omit=dev\b/);
      }
    }
  });

  it("builds a bundle for each service, named as docker-compose and Kubernetes start them", () => {
    const bundle = runs(stage("build")).find((r) => r.includes("deploy/docker/service-bundle.ts")) as string;
    expect(bundle).toBeDefined();
    const [, outdir, ...names] = bundle
      .split(/\s+/)
      .slice(bundle.split(/\s+/).indexOf("deploy/docker/service-bundle.ts"));
    expect(names.sort()).toEqual([...SERVICES].sort());
    const copied = final.instructions.find((i) => i.op === "COPY" && i.args.includes("--from=build"))?.args;
    expect(copied).toContain(`/app/${outdir}`);
    const { services } = loadCompose();
    for (const name of SERVICES) {
      expect(asList(services[name]?.command, name)).toEqual([`${outdir}/${name}.mjs`]);
    }
    expect(final.instructions.find((i) => i.op === "CMD")?.args).toBe(`["${outdir}/membership.mjs"]`);
  });

  it("keeps the tools image (dev dependencies, CLI under tsx) non-root and out of the final stage", () => {
    const tools = stage("tools");
    expect(tools).not.toBe(final);
    expect(["root", "0", undefined]).not.toContain(user(tools));
  });
});

describe(".dockerignore", () => {
  const ignored = readText(".dockerignore")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));

  it("keeps local state, dependencies and secrets out of the build context", () => {
    for (const entry of [".git", "node_modules", ".cache", ".conclave", ".env", "**/*.key.json"]) {
      expect(ignored, entry).toContain(entry);
    }
  });
});
