import { readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./docker.ts";

/** The shell lines of the README's one-Docker-host block, in order, exactly as an operator would paste them. */
export function readmeProductionCommands(): string[] {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("**One Docker host**"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README.md: no ```sh block after **One Docker host**");
  return block
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}
