// Reading the deployment files for the tests in test/deploy.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { generateCredentials, projectRoot, seedsEnv, serverEnv } from "@conclave/testkit";
import { parseAllDocuments } from "yaml";

export const root = projectRoot();

export type YamlValue = null | boolean | number | string | YamlValue[] | { [key: string]: YamlValue };

/**
 * Every document of a multi-document file, read strictly: any error or warning of the `yaml` package fails
 * (duplicate keys, unknown tags, unknown aliases), and the file must mean the same to a YAML 1.1 reader
 * (docker compose and kubectl lineage: `yes`, `0755`, `22:22`, dates) as to a YAML 1.2 one. Quote what differs.
 */
export function parseYamlDocuments(source: string): YamlValue[] {
  const read = (version: "1.1" | "1.2") =>
    parseAllDocuments(source, { version, merge: true, uniqueKeys: true }).map((doc) => {
      const problem = doc.errors[0] ?? doc.warnings[0];
      if (problem) throw new Error(`YAML ${version}: ${problem.message}`);
      return doc.toJS() as YamlValue;
    });
  const modern = read("1.2");
  const where = firstDifference(modern, read("1.1"), "");
  if (where !== undefined) throw new Error(`YAML 1.1 and 1.2 readers disagree at ${where || "the root"}: quote it`);
  return modern;
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (isDeepStrictEqual(a, b)) return undefined;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return path;
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const at = firstDifference(
      (a as Record<string, unknown>)[key],
      (b as Record<string, unknown>)[key],
      `${path}/${key}`,
    );
    if (at !== undefined) return at;
  }
  return path;
}

/** The single document of a file. */
export function parseYaml(source: string): YamlValue {
  const docs = parseYamlDocuments(source);
  if (docs.length !== 1) throw new Error(`expected one YAML document, found ${docs.length}`);
  return docs[0] as YamlValue;
}

export function readText(relativePath: string): string {
  return readFileSync(join(root, relativePath), "utf8");
}

export type YamlMap = { [key: string]: YamlValue };

export function asMap(value: YamlValue | undefined, what: string): YamlMap {
  if (value === null || value === undefined || typeof value !== "object" || Array.isArray(value)) {
    throw new Error(`${what}: expected a mapping`);
  }
  return value;
}

export function asList(value: YamlValue | undefined, what: string): YamlValue[] {
  if (!Array.isArray(value)) throw new Error(`${what}: expected a list`);
  return value;
}

export function loadCompose(): { services: Record<string, YamlMap>; volumes: YamlMap } {
  const doc = asMap(parseYaml(readText("docker-compose.yml")), "docker-compose.yml");
  const services = asMap(doc.services, "services");
  return {
    services: Object.fromEntries(Object.entries(services).map(([name, s]) => [name, asMap(s, `services.${name}`)])),
    volumes: asMap(doc.volumes, "volumes"),
  };
}

/** What `.env` holds after the README's steps (any well-formed gateway key will do); compose interpolates it. */
export const DOT_ENV: Record<string, string> = {
  CONCLAVE_GATEWAY_JWT_KEY: "A".repeat(86),
  ...serverEnv(generateCredentials()),
  ...seedsEnv(generateCredentials()),
};

/** `${NAME}`, `${NAME:?message}` and `${NAME:-default}` as docker compose resolves them from `.env`. */
function interpolate(value: string): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g, (_m, name: string, op?: string, arg?: string) => {
    const v = DOT_ENV[name];
    if (v !== undefined) return v;
    if (op === "-") return arg ?? "";
    throw new Error(`compose reads \${${name}}, which .env does not define`);
  });
}

/** A compose service's environment after interpolation. */
export function composeEnvironment(services: Record<string, YamlMap>, name: string): Record<string, string> {
  const vars = asMap(services[name]?.environment, `${name}.environment`);
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, interpolate(String(v))]));
}

export interface K8sObject extends YamlMap {
  kind: string;
  metadata: YamlMap;
}

/**
 * Every object of the resources listed in deploy/k8s/kustomization.yaml. A resource that is a directory
 * is a kustomization of its own (deploy/nats): its resources, and its configMapGenerator's ConfigMaps
 * with each file as a key (only the generator options used here; `kubectl kustomize` checks the real thing).
 */
export function loadK8s(dir = "deploy/k8s"): K8sObject[] {
  const kustomization = asMap(parseYaml(readText(join(dir, "kustomization.yaml"))), `${dir}/kustomization`);
  const fromFiles = asList(kustomization.resources ?? [], "resources").flatMap((resource): K8sObject[] => {
    const file = join(dir, String(resource));
    if (statSync(join(root, file)).isDirectory()) return loadK8s(file);
    return parseYamlDocuments(readText(file)).map((doc) => {
      const object = asMap(doc, file);
      if (typeof object.kind !== "string") throw new Error(`${file}: an object without kind`);
      asMap(object.metadata, `${file}: ${object.kind}.metadata`);
      return object as K8sObject;
    });
  });
  const generated = asList(kustomization.configMapGenerator ?? [], "configMapGenerator").map((g): K8sObject => {
    const generator = asMap(g, "configMapGenerator");
    const options = asMap(generator.options ?? {}, "options");
    const unknown = Object.keys(options).filter((k) => k !== "disableNameSuffixHash" && k !== "labels");
    if (unknown.length > 0 || options.disableNameSuffixHash !== true) {
      throw new Error(`${dir}: configMapGenerator options not modelled here: ${unknown.join(", ") || "name hash"}`);
    }
    const files = asList(generator.files, "files").map(String);
    return {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: String(generator.name), ...(options.labels ? { labels: options.labels } : {}) },
      data: Object.fromEntries(files.map((f) => [f, readText(join(dir, f))])),
    };
  });
  return [...fromFiles, ...generated];
}

/**
 * The image a compose service runs when its variable is unset: `${NATS_IMAGE:-nats:2.15.1-alpine}`
 * gives `{ variable: "NATS_IMAGE", image: "nats:2.15.1-alpine" }` (a plain tag: no variable).
 */
export function defaultImage(value: YamlValue | undefined): { variable?: string; image: string } {
  const m = /^\$\{([A-Z_]+):-([^}]+)\}$/.exec(String(value));
  return m ? { variable: m[1] as string, image: m[2] as string } : { image: String(value) };
}

/** Dot path into parsed YAML (`spec.template.spec`), failing with the path when absent. */
export function at(value: YamlValue | undefined, path: string): YamlValue {
  let current: YamlValue | undefined = value;
  for (const key of path.split(".")) {
    if (current === null || current === undefined || typeof current !== "object" || Array.isArray(current)) {
      throw new Error(`missing ${path} (at ${key})`);
    }
    current = current[key];
  }
  if (current === undefined) throw new Error(`missing ${path}`);
  return current;
}

export interface NginxLocation {
  /** `~` for a regex location, `=` for an exact one, "" for a prefix. */
  modifier: string;
  match: string;
  /** The upstream of `proxy_pass http://<upstream>`, if the location proxies. */
  upstream?: string;
  /** The URI part after the upstream (must be absent: signed paths pass unchanged). */
  proxyPassUri?: string;
  body: string;
}

/** The `location` blocks of an nginx config (no nested locations, as in deploy/lb). */
export function nginxLocations(config: string): NginxLocation[] {
  const text = config.replace(/^\s*#.*$/gm, "");
  const out: NginxLocation[] = [];
  const head = /^\s*location\s+(?:(~\*?|=|\^~)\s+)?(\S+)\s*\{/gm;
  for (let m = head.exec(text); m; m = head.exec(text)) {
    const start = m.index + m[0].length;
    const end = closingBrace(text, start);
    const body = text.slice(start, end);
    const pass = /proxy_pass\s+http:\/\/([A-Za-z0-9_.-]+)([^;\s]*)\s*;/.exec(body);
    out.push({
      modifier: m[1] ?? "",
      match: m[2] as string,
      body,
      ...(pass ? { upstream: pass[1] as string, proxyPassUri: pass[2] as string } : {}),
    });
    head.lastIndex = end + 1;
  }
  return out;
}

/** Index of the `}` closing a block whose body starts at `start`, skipping quoted strings. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "{") depth++;
    else if (c === "}" && depth-- === 0) return i;
  }
  throw new Error("unbalanced braces in nginx config");
}

/** First file named `name` on PATH. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** True when `cmd args` exits 0 within the timeout. */
export function runs(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore", timeout: 15_000 }).status === 0;
}

/** The location nginx picks for a path: exact, then a `^~` longest prefix, then the first regex, then the longest prefix. */
export function nginxLocationFor(locations: NginxLocation[], path: string): NginxLocation | undefined {
  const exact = locations.find((l) => l.modifier === "=" && l.match === path);
  if (exact) return exact;
  const prefix = locations
    .filter((l) => (l.modifier === "" || l.modifier === "^~") && !l.match.startsWith("@") && path.startsWith(l.match))
    .sort((a, b) => b.match.length - a.match.length)[0];
  if (prefix?.modifier === "^~") return prefix;
  const regex = locations.find((l) => l.modifier.startsWith("~") && nginxRegex(l).test(path));
  return regex ?? prefix;
}

/** An nginx (PCRE) location regex as a JavaScript RegExp; the patterns in deploy/lb use the common subset. */
export function nginxRegex(location: NginxLocation): RegExp {
  return new RegExp(location.match, location.modifier === "~*" ? "i" : "");
}

/** nginx sizes: 17m → 17 MiB. */
export function nginxSize(value: string): number {
  const m = /^(\d+)([kKmMgG]?)$/.exec(value.trim());
  if (!m) throw new Error(`not an nginx size: ${value}`);
  const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] as string).toLowerCase()] as number;
  return Number(m[1]) * unit;
}
