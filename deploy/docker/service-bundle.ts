// Builds the production entry of each service: one ES module per service with
// every workspace package (libs/*) bundled in and every npm dependency left
// external, to be resolved from a `npm ci --omit=dev` node_modules. Run by the
// Dockerfile's build stage:
//   node --import tsx deploy/docker/service-bundle.ts dist membership gateway blob access
// Why bundle instead of running tsx in production: see the Dockerfile's header.

import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

export const SERVICES = ["membership", "gateway", "blob", "access"] as const;

export interface BundleResult {
  /** Output file per service, e.g. dist/membership.mjs. */
  outputs: Record<string, string>;
  /** Packages the bundles import at run time (all must be production dependencies). */
  externalPackages: string[];
}

/** The npm package a bare import names: `@nats-io/kv/internal` → `@nats-io/kv`. */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
}

export async function bundleServices(opts: {
  root: string;
  outdir: string;
  services: string[];
}): Promise<BundleResult> {
  const manifest = JSON.parse(readFileSync(join(opts.root, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>;
  };
  const dependencies = Object.keys(manifest.dependencies ?? {});
  const result = await build({
    absWorkingDir: opts.root,
    entryPoints: opts.services.map((s) => ({ in: `services/${s}/src/main.ts`, out: s })),
    outdir: opts.outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // Stack traces point at the TypeScript sources (node --enable-source-maps).
    sourcemap: true,
    external: dependencies.flatMap((d) => [d, `${d}/*`]),
    metafile: true,
    logLevel: "warning",
  });

  const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
  const externals = new Set<string>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const imported of output.imports) {
      if (imported.external && !builtins.has(imported.path)) externals.add(packageOf(imported.path));
    }
  }
  // A package outside `dependencies` would be missing from the production image.
  const undeclared = [...externals].filter((p) => !dependencies.includes(p));
  if (undeclared.length > 0) {
    throw new Error(`service bundles import packages that are not production dependencies: ${undeclared.join(", ")}`);
  }
  return {
    outputs: Object.fromEntries(opts.services.map((s) => [s, join(opts.outdir, `${s}.mjs`)])),
    externalPackages: [...externals].sort(),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [outdir, ...services] = process.argv.slice(2);
  if (!outdir || services.length === 0) {
    console.error("usage: service-bundle.ts <outdir> <service>...");
    process.exit(2);
  }
  const unknown = services.filter((s) => !(SERVICES as readonly string[]).includes(s));
  if (unknown.length > 0) {
    console.error(`unknown service(s): ${unknown.join(", ")} (known: ${SERVICES.join(", ")})`);
    process.exit(2);
  }
  const { outputs, externalPackages } = await bundleServices({ root: process.cwd(), outdir, services });
  console.log(`bundled ${Object.values(outputs).join(", ")}; external: ${externalPackages.join(", ")}`);
}
