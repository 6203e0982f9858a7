import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadAccessConfig } from "@conclave/access";
import { loadServiceEnv, serviceEnvSchema } from "@conclave/runtime";
import { describe, expect, it } from "vitest";
import {
  asList,
  at,
  composeEnvironment,
  DOT_ENV,
  defaultImage,
  loadCompose,
  nginxLocations,
  readText,
  root,
  type YamlMap,
} from "./deploy-files.ts";
import type { ServiceName } from "./spec-routes.ts";

// docker-compose.yml, checked without a Docker engine (`docker compose config`
// itself runs in docker-engine.test.ts where an engine exists).
const { services, volumes } = loadCompose();
const CONCLAVE: ServiceName[] = ["membership", "blob", "gateway"];
const NATS = Object.keys(services).filter((name) => name.startsWith("nats-"));
const ONE_SHOT = ["bootstrap"];
const env = (name: string) => composeEnvironment(services, name);
const seconds = (duration: unknown) => {
  const m = /^(\d+)s$/.exec(String(duration));
  if (!m) throw new Error(`not a duration in seconds: ${String(duration)}`);
  return Number(m[1]);
};

describe("docker-compose.yml", () => {
  it("defines only services this test knows how to check", () => {
    expect(Object.keys(services).sort()).toEqual([...CONCLAVE, "access", ...NATS, "lb", ...ONE_SHOT].sort());
    expect(NATS).toHaveLength(3);
  });

  it("gives every NATS node every variable of deploy/nats, and the files its config includes next to it", () => {
    const read = ["cluster-node.conf", "accounts.conf", "rpc-handlers.conf"]
      .map((f) => readText(`deploy/nats/${f}`))
      .join("\n");
    const vars = [...new Set([...read.matchAll(/\$(NATS_[A-Z0-9_]+)/g)].map((m) => m[1] as string))];
    expect(vars).toContain("NATS_CALLOUT_ISSUER");
    for (const node of NATS) {
      expect(Object.keys(env(node)), node).toEqual(expect.arrayContaining(vars));
      expect(asList(services[node]?.volumes, `${node}.volumes`)).toEqual(
        expect.arrayContaining([
          "./deploy/nats/accounts.conf:/etc/nats/accounts.conf:ro",
          // The RPC account's users: the default, or one per handler (conclave credentials rpc-handlers).
          // biome-ignore lint/suspicious/noTemplateCurlyInString: docker compose's own interpolation, as written in the file
          "${CONCLAVE_RPC_HANDLERS_CONF:-./deploy/nats/rpc-handlers.conf}:/etc/nats/rpc-handlers.conf:ro",
        ]),
      );
      const routes = JSON.parse(env(node).NATS_ROUTES as string) as string[];
      for (const r of routes) expect(r).toContain(`${DOT_ENV.NATS_ROUTE_USER}:${DOT_ENV.NATS_ROUTE_PASSWORD}@`);
    }
  });

  it("puts each service and the bootstrap on NATS as its own user", () => {
    const who = [...CONCLAVE.map((s) => [s, s]), ["access", "access"], ["bootstrap", "operator"]] as [string, string][];
    for (const [name, role] of who) {
      expect(env(name).CONCLAVE_NATS_SEED, name).toBe(DOT_ENV[`CONCLAVE_NATS_SEED_${role.toUpperCase()}`]);
    }
  });

  it("runs the auth callout: two replicas of the one image, configured to sign with the issuer key", () => {
    const access = services.access as YamlMap;
    expect(access.image).toBe(services.membership?.image);
    expect(access.command).toEqual(["dist/access.mjs"]);
    expect(Number(at(access, "deploy.replicas"))).toBeGreaterThanOrEqual(2);
    expect(loadServiceEnv(env("access")).CONCLAVE_HOST).toBe("0.0.0.0");
    expect(loadAccessConfig(env("access")).account).toBe("BOTS");
  });

  it("gives every long-running service a healthcheck (the one-shot bootstrap has none to give)", () => {
    for (const [name, service] of Object.entries(services)) {
      if (ONE_SHOT.includes(name)) continue;
      const test = asList(at(service, "healthcheck.test"), `${name}.healthcheck.test`);
      expect(test[0], name).toBe("CMD");
    }
  });

  describe.each(CONCLAVE)("service %s", (name) => {
    const service = services[name] as YamlMap;

    it("runs the one image of the Dockerfile's runtime stage, selected by command", () => {
      expect(service.image).toBe(services.membership?.image);
      expect(service.command).toEqual([`dist/${name}.mjs`]);
    });

    it("runs at least two replicas", () => {
      expect(Number(at(service, "deploy.replicas"))).toBeGreaterThanOrEqual(2);
    });

    it("has an environment that passes the service's own config validation", () => {
      const parsed = loadServiceEnv(env(name));
      expect(parsed.CONCLAVE_HOST).toBe("0.0.0.0");
      expect(parsed.CONCLAVE_REPLICAS).toBe(3);
    });

    it("lists all three NATS nodes, on their client port, in CONCLAVE_NATS_URLS", () => {
      const urls = loadServiceEnv(env(name)).CONCLAVE_NATS_URLS;
      const clientPort = env(NATS[0] as string).NATS_LISTEN?.split(":")[1];
      expect(urls).toEqual(NATS.map((n) => `nats://${n}:${clientPort}`));
    });

    it("sets no CONCLAVE_ variable that the config does not know (a typo would be silently ignored)", () => {
      const known = new Set(Object.keys(serviceEnvSchema.shape));
      const unknown = Object.keys(env(name)).filter(
        (k) => k.startsWith("CONCLAVE_") && !known.has(k) && !(name === "gateway" && k.startsWith("CONCLAVE_GATEWAY_")),
      );
      expect(unknown).toEqual([]);
    });

    it("probes readiness (/readyz) on the port it listens on", () => {
      const probe = asList(at(service, "healthcheck.test"), "healthcheck.test").join(" ");
      expect(probe).toContain(`http://127.0.0.1:${env(name).CONCLAVE_PORT}/readyz`);
    });

    it("starts once every NATS node is healthy and stops after its 10 s drain", () => {
      for (const n of NATS) expect(at(service, `depends_on.${n}.condition`)).toBe("service_healthy");
      expect(seconds(service.stop_grace_period)).toBeGreaterThan(10);
    });
  });

  it("builds the service image once: membership alone has `build:`, the others never pull the tag", () => {
    const builders = CONCLAVE.filter((name) => services[name]?.build !== undefined);
    expect(builders).toEqual(["membership"]);
    expect(at(services.membership, "build.context")).toBe(".");
    expect(at(services.membership, "build.target")).toBe("runtime");
    for (const name of CONCLAVE.filter((n) => n !== "membership"))
      expect(services[name]?.pull_policy, name).toBe("never");
  });

  it("passes NODE_IMAGE to every build from the environment only (the Dockerfile keeps the default)", () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build === undefined) continue;
      expect(asList(at(service, "build.args"), `${name}.build.args`), name).toEqual(["NODE_IMAGE"]);
    }
  });

  it("uses in healthchecks only tools the local image recipes install (the official -alpine images carry wget)", () => {
    const recipes = { "nats-1": "nats", lb: "nginx" } as const;
    for (const [service, recipe] of Object.entries(recipes)) {
      const tool = String(asList(at(services[service], "healthcheck.test"), service)[1]);
      const installs = readText(`deploy/containers/images/${recipe}.Dockerfile`);
      expect(installs, `${recipe}.Dockerfile installs ${tool}`).toMatch(
        new RegExp(`apt-get install[^\\n]*\\b${tool}\\b`),
      );
    }
  });

  describe("NATS nodes", () => {
    it("run one pinned image, the same on every node, overridable by NATS_IMAGE", () => {
      const images = new Set(NATS.map((n) => services[n]?.image));
      expect(images.size).toBe(1);
      const { variable, image } = defaultImage([...images][0]);
      expect(variable).toBe("NATS_IMAGE");
      // -alpine: the healthcheck's wget is in the image (the scratch variant has no shell tools).
      expect(image).toMatch(/^nats:\d+\.\d+\.\d+-alpine$/);
    });

    it.each(NATS)("%s runs deploy/nats/cluster-node.conf with its store on a named volume", (n) => {
      const service = services[n] as YamlMap;
      const mounts = asList(service.volumes, `${n}.volumes`).map(String);
      const command = asList(service.command, `${n}.command`).map(String);
      const confMount = mounts.find((m) => m.startsWith("./deploy/nats/cluster-node.conf:"));
      expect(confMount, "the harness's config file").toBeDefined();
      expect(command).toEqual(["-c", confMount?.split(":")[1]]);
      const data = mounts.find((m) => m.split(":")[1] === "/data");
      const volume = data?.split(":")[0] as string;
      expect(volume in volumes, `volume ${volume} declared`).toBe(true);
      expect(env(n).NATS_STORE_DIR?.startsWith("/data/")).toBe(true);
    });

    it("route to every node and have unique names", () => {
      const names = NATS.map((n) => env(n).NATS_SERVER_NAME);
      expect(new Set(names).size).toBe(NATS.length);
      for (const n of NATS) {
        const clusterPort = env(n).NATS_CLUSTER_LISTEN?.split(":")[1];
        const creds = `${DOT_ENV.NATS_ROUTE_USER}:${DOT_ENV.NATS_ROUTE_PASSWORD}@`;
        expect(JSON.parse(env(n).NATS_ROUTES as string)).toEqual(NATS.map((m) => `nats://${creds}${m}:${clusterPort}`));
      }
    });
  });

  describe("load balancer", () => {
    const lb = services.lb as YamlMap;
    const config = readText("deploy/lb/nginx.conf");

    it("runs a pinned official nginx >= 1.27.3 (upstream `resolve`) with deploy/lb/nginx.conf, overridable by NGINX_IMAGE", () => {
      const { variable, image } = defaultImage(lb.image);
      expect(variable).toBe("NGINX_IMAGE");
      const m = /^nginx:(\d+)\.(\d+)\.(\d+)(-alpine)?$/.exec(image);
      expect(m, image).not.toBeNull();
      const [major, minor, patch] = [Number(m?.[1]), Number(m?.[2]), Number(m?.[3])];
      expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_027_003);
      expect(asList(lb.volumes, "lb.volumes")).toContain("./deploy/lb/nginx.conf:/etc/nginx/nginx.conf:ro");
    });

    it("publishes the port nginx listens on and probes its own health location", () => {
      const listen = /^\s*listen\s+(\d+)\s*;/m.exec(config)?.[1];
      // Host address and port are variables (default 0.0.0.0:8080); the container port is nginx's.
      const ports = asList(lb.ports, "lb.ports").map(String);
      expect(ports).toEqual([`\${CONCLAVE_LB_ADDRESS:-0.0.0.0}:\${CONCLAVE_LB_PORT:-${listen}}:${listen}`]);
      const probe = asList(at(lb, "healthcheck.test"), "lb.healthcheck").join(" ");
      const own = nginxLocations(config).find((l) => l.modifier === "=" && probe.includes(l.match));
      expect(own?.body, "a location answering the probe without proxying").toMatch(/return 200/);
    });

    it("sends each upstream to a Conclave service on its port", () => {
      const upstreams = [...config.matchAll(/^\s*server\s+([a-z0-9-]+):(\d+)\s/gm)].map((m) => [m[1], m[2]]);
      expect(upstreams.map(([host]) => host).sort()).toEqual([...CONCLAVE].sort());
      for (const [host, port] of upstreams) expect(port).toBe(env(host as string).CONCLAVE_PORT);
    });
  });

  describe("bootstrap (one-shot)", () => {
    const bootstrap = services.bootstrap as YamlMap;

    it("runs once, from the tools image, against the services' NATS with their replica count", () => {
      expect(bootstrap.restart).toBe("no");
      expect(at(bootstrap, "build.target")).toBe("tools");
      expect(env("bootstrap").CONCLAVE_NATS_URLS).toBe(env("membership").CONCLAVE_NATS_URLS);
      expect(env("bootstrap").CONCLAVE_REPLICAS).toBe(env("membership").CONCLAVE_REPLICAS);
      expect(at(bootstrap, "depends_on.membership.condition")).toBe("service_healthy");
    });

    it("writes the key file into a named volume", () => {
      const command = asList(bootstrap.command, "bootstrap.command").map(String);
      const keyFile = command[command.indexOf("--key-file") + 1] as string;
      const mount = asList(bootstrap.volumes, "bootstrap.volumes")
        .map(String)
        .find((m) => keyFile.startsWith(`${m.split(":")[1]}/`));
      expect(mount?.split(":")[0] ?? "", `a volume holding ${keyFile}`).toBeOneOf(Object.keys(volumes));
    });

    it("names a CLI entry that exists (an assumption while the CLI is being written)", () => {
      const command = asList(bootstrap.command, "bootstrap.command").map(String);
      const entry = command.find((c) => c.endsWith(".ts")) as string;
      expect(existsSync(join(root, entry)), `${entry}: update docker-compose.yml if the CLI moved`).toBe(true);
      expect(command).toContain("bootstrap");
    });
  });
});
