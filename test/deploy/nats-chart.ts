// What the official NATS Helm chart (2.14.x) makes of deploy/k8s/nats-values.yaml, assembled as its
// templates do, for the tests: no helm and no chart on the development machines. Only the parts our
// values touch: files/config/config.yaml, cluster.yaml and jetstream.yaml give the base config, then
// `merge` (sprig mergeOverwrite) and `patch` (JSON Patch) apply per block, and nats.formatConfig
// writes it (JSON with sorted keys, `$include` keys as include directives, `<< x >>` unquoted).
// The container's env is the chart's POD_NAME and SERVER_NAME, then container.env in key order,
// then container.patch, as nats-container.yaml writes it. Any other patch op fails here.
import { asList, asMap, type YamlMap, type YamlValue } from "./deploy-files.ts";

const isMap = (v: YamlValue | undefined): v is YamlMap => typeof v === "object" && v !== null && !Array.isArray(v);

/** sprig's mergeOverwrite: maps merge key by key, anything else in `src` replaces. */
export function mergeOverwrite(dst: YamlMap, src: YamlMap | undefined): YamlMap {
  const out: YamlMap = { ...dst };
  for (const [k, v] of Object.entries(src ?? {})) {
    const d = out[k];
    out[k] = isMap(d) && isMap(v) ? mergeOverwrite(d, v) : v;
  }
  return out;
}

/** The `add` and `replace` ops of JSON Patch (RFC 6902), with `-` appending to a list. */
export function jsonPatch(doc: YamlMap, patch: YamlValue | undefined): YamlMap {
  const root: YamlMap = structuredClone(doc);
  for (const p of asList(patch ?? [], "patch")) {
    const { op, path, value } = asMap(p, "patch op");
    if (op !== "add" && op !== "replace") throw new Error(`patch op ${String(op)} is not modelled`);
    const keys = String(path)
      .split("/")
      .slice(1)
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = keys.pop() as string;
    let parent: YamlValue = root;
    for (const k of keys) {
      const next: YamlValue | undefined = Array.isArray(parent) ? parent[Number(k)] : asMap(parent, k)[k];
      if (next === undefined) throw new Error(`patch path ${String(path)}: ${k} does not exist`);
      parent = next;
    }
    if (Array.isArray(parent)) {
      if (last === "-") parent.push(value as YamlValue);
      else parent.splice(Number(last), op === "replace" ? 1 : 0, value as YamlValue);
    } else {
      const map = asMap(parent, String(path));
      if (op === "replace" && !(last in map)) throw new Error(`patch path ${String(path)} does not exist`);
      map[last] = value as YamlValue;
    }
  }
  return root;
}

const block = (base: YamlMap, values: YamlValue | undefined) => {
  const v = isMap(values) ? values : {};
  return jsonPatch(mergeOverwrite(base, isMap(v.merge) ? v.merge : undefined), v.patch);
};

/** The server config (as a document) the chart's config map holds for these values. */
export function chartConfig(values: YamlMap): YamlMap {
  const config = asMap(values.config, "config");
  const name = String(values.fullnameOverride);
  const cluster = asMap(config.cluster, "config.cluster");
  const jetstream = asMap(config.jetstream, "config.jetstream");
  const fileStore = asMap(jetstream.fileStore, "fileStore");
  const routes = Array.from(
    { length: Number(cluster.replicas) },
    (_, i) => `nats://${name}-${i}.${name}-headless:${cluster.port}`,
  );
  const base: YamlMap = {
    server_name: "<< $SERVER_NAME >>",
    lame_duck_grace_period: "10s",
    lame_duck_duration: "30s",
    pid_file: "/var/run/nats/nats.pid",
    port: at(config, "nats.port"),
    http_port: at(config, "monitor.port"),
  };
  if (cluster.enabled) {
    base.cluster = block(
      { name, port: at(cluster, "port"), no_advertise: at(cluster, "noAdvertise"), routes },
      cluster,
    );
  }
  if (jetstream.enabled) {
    base.jetstream = block(
      {
        max_memory_store: 0,
        store_dir: at(fileStore, "dir"),
        max_file_store: `<< ${at(fileStore, "pvc.size")} >>`,
      },
      jetstream,
    );
  }
  return block(base, config);
}

function at(value: YamlMap, path: string): YamlValue {
  const found = path.split(".").reduce<YamlValue | undefined>((v, k) => asMap(v, path)[k], value);
  if (found === undefined) throw new Error(`missing ${path}`);
  return found;
}

const sortKeys = (v: YamlValue): YamlValue =>
  Array.isArray(v)
    ? v.map(sortKeys)
    : isMap(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, sortKeys(v[k] as YamlValue)]),
        )
      : v;

/** nats.formatConfig: the text of nats.conf. */
export function formatConfig(config: YamlMap): string {
  return JSON.stringify(sortKeys(config), null, 2)
    .replace(/".*\$include": "(.*)",?/g, "include $1;")
    .replace(/"<<\s+(.*?)\s+>>"/g, "$1");
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: YamlMap;
}

/** The NATS container's env (in the chart's order) and volume mounts. */
export function chartContainer(values: YamlMap): { env: EnvVar[]; volumeMounts: YamlMap[] } {
  const container = asMap(values.container, "container");
  const envValues = asMap(container.env ?? {}, "container.env");
  const env: EnvVar[] = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "SERVER_NAME", value: "$(POD_NAME)" },
    ...Object.keys(envValues)
      .sort()
      .map((name): EnvVar => {
        const v = envValues[name] as YamlValue;
        return typeof v === "string" ? { name, value: v } : { name, ...asMap(v, name) };
      }),
  ];
  const volumeMounts: YamlMap[] = [
    { name: "config", mountPath: "/etc/nats-config" },
    { name: "pid", mountPath: "/var/run/nats" },
  ];
  const patched = jsonPatch({ env: env as unknown as YamlValue, volumeMounts } as YamlMap, container.patch ?? []);
  return {
    env: asList(patched.env, "env") as unknown as EnvVar[],
    volumeMounts: asList(patched.volumeMounts, "volumeMounts").map((m) => asMap(m, "volumeMount")),
  };
}

/** The pod volumes the values add (podTemplate.patch). */
export function chartVolumes(values: YamlMap): YamlMap[] {
  const patched = jsonPatch(
    { spec: { volumes: [{ name: "config" }, { name: "pid" }] } },
    asMap(values.podTemplate, "podTemplate").patch ?? [],
  );
  return asList(at(patched, "spec.volumes"), "volumes").map((v) => asMap(v, "volume"));
}

/**
 * The environment the kubelet gives the container: secretKeyRef from `secrets` (name → data; a missing
 * key throws, as the pod would not start), fieldRef metadata.name as `podName`, and `$(VAR)` expanded
 * from the variables defined before (an undefined one stays as written, as the kubelet leaves it).
 */
export function kubeletEnv(
  env: EnvVar[],
  secrets: Record<string, Record<string, string>>,
  podName: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of env) {
    if (v.value !== undefined) {
      out[v.name] = v.value.replace(/\$\(([A-Za-z0-9_]+)\)/g, (m, ref: string) => out[ref] ?? m);
    } else if (v.valueFrom?.secretKeyRef) {
      const ref = asMap(v.valueFrom.secretKeyRef, "secretKeyRef");
      const value = secrets[String(ref.name)]?.[String(ref.key)];
      if (value === undefined) throw new Error(`${v.name}: secret ${ref.name} has no key ${ref.key}`);
      out[v.name] = value;
    } else if (v.valueFrom?.fieldRef) {
      out[v.name] = podName;
    } else {
      throw new Error(`${v.name}: no value`);
    }
  }
  return out;
}
