import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { HARNESS_LABEL, projectRoot } from "@conclave/testkit";

// A Docker engine (installed from Debian's archive when none answers) and the
// local images (Debian base, Node, nats-server, nginx), cached between runs.
// Workers inherit NODE_IMAGE, NATS_IMAGE and NGINX_IMAGE.
// The teardown removes what a crashed test file left of the harness's NATS
// containers (each cluster removes its own on stop; Testcontainers' reaper image
// cannot be pulled here). The engine and the cached images stay.
export default async function setup(): Promise<() => void> {
  const dir = join(projectRoot(), "deploy", "containers");
  const run = (script: string) =>
    execFileSync("bash", [join(dir, script)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  process.stdout.write(run("provision-engine.sh"));
  for (const line of run("build-images.sh").split("\n")) {
    const m = /^(NODE_IMAGE|NATS_IMAGE|NGINX_IMAGE)=(\S+)$/.exec(line);
    if (m) process.env[m[1] as string] = process.env[m[1] as string] ?? (m[2] as string);
  }
  console.log(`images: ${process.env.NODE_IMAGE}, ${process.env.NATS_IMAGE}, ${process.env.NGINX_IMAGE}`);
  return () => {
    const left = execFileSync("docker", ["ps", "-aq", "--filter", `label=${HARNESS_LABEL}`], { encoding: "utf8" });
    const ids = left.split("\n").filter(Boolean);
    if (ids.length > 0) execFileSync("docker", ["rm", "--force", "--volumes", ...ids], { stdio: "ignore" });
    // ...and their networks, once no container uses them (prune keeps networks in use).
    execFileSync("docker", ["network", "prune", "--force", "--filter", "label=org.testcontainers=true"], {
      stdio: "ignore",
    });
  };
}
