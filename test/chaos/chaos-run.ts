import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generateIdentity, type KeyFile } from "@conclave/auth";
import { SESSION_EVENT_SCHEMAS } from "@conclave/gateway";
import { membershipModule, userCommands } from "@conclave/membership";
import { loadServiceEnv, startHost } from "@conclave/runtime";
import { EventLog, Store } from "@conclave/store";
import { NatsCluster, seedAuthenticator } from "@conclave/testkit";
import { BlobOps } from "./blob-ops.ts";
import type { CheckResult } from "./checkers.ts";
import { DataplaneBots } from "./dataplane-ops.ts";
import { DataplaneWorkload } from "./dataplane-workload.ts";
import { availableServices, Deployment } from "./deployment.ts";
import { FaultInjector, planFaults } from "./fault-injector.ts";
import { collectFinalState } from "./final-state.ts";
import { GatewayOps, INITIAL_BUDGET } from "./gateway-ops.ts";
import { type FaultKind, HistoryRecorder } from "./history.ts";
import { runCheckers } from "./invariants.ts";
import { MembershipOps } from "./membership-ops.ts";
import { Prng } from "./prng.ts";
import { RawProbes } from "./raw-probes.ts";
import { RouteProxies } from "./route-proxy.ts";
import { computeFigures, type Figures, renderSummary } from "./summary.ts";
import { type Bot, isOk, type OpGroup, type ServiceName, Workload, WorkloadContext } from "./workload.ts";

export interface ChaosOptions {
  /** How long the workload runs (ms); the first cycle of faults may extend it. */
  durationMs: number;
  seed: number;
  faults: FaultKind[];
  /** Services under test (membership always; blob and gateway when their main.ts exists). */
  services: ServiceName[];
  /** Replicas of each service, each a separate OS process. */
  replicas: number;
  /** Concurrent workload loops. */
  workers: number;
  /** Where the history, summary and logs go. */
  outDir: string;
  /** CONCLAVE_OP_TIMEOUT_MS of the replicas. */
  opTimeoutMs: number;
  requestTimeoutMs: number;
  recoveryBoundMs: number;
  revokeBoundMs: number;
  windowMarginMs: number;
  thinkMs: number;
  /** Scales every fault's hold time (short profiles). */
  holdScale: number;
  /** Run every listed fault kind once even when the duration is too short for it. */
  ensureEach: boolean;
  /** Auth callout replicas and data-plane bots (dataplane-workload.ts) beside the HTTP workload. */
  dataplane: boolean;
  /** The callout's admission lifetime (CONCLAVE_ACCESS_TTL_S): the bound of a kick a fault prevents. */
  accessTtlS: number;
  /** Nothing published this long after a removal's or revocation's 2xx may reach the bot (issue 14: 1 s). */
  dataplaneBoundMs: number;
  /** How long after a fault's recovery a removal is still judged against the admission lifetime. */
  faultSettleMs: number;
  log(line: string): void;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, "outDir" | "log"> = {
  durationMs: 120_000,
  seed: 42,
  faults: ["kill", "pause", "restart", "replica", "quorum", "partition", "planned", "bridge", "oneway", "hung-quorum"],
  services: availableServices(),
  replicas: 2,
  workers: 4,
  opTimeoutMs: 2_000,
  requestTimeoutMs: 20_000,
  recoveryBoundMs: 30_000,
  revokeBoundMs: 0,
  windowMarginMs: 250,
  thinkMs: 20,
  holdScale: 1,
  ensureEach: true,
  dataplane: true,
  accessTtlS: 15,
  dataplaneBoundMs: 1_000,
  // The kick feeds re-attach and re-elect after a repair (docs/chaos.md, "The data plane's bound
  // under faults": the removal lags the summary prints were 0.0 s after every recovery once the
  // feeds' ack wait and pull expiry were short and admissions in flight were swept again).
  faultSettleMs: 5_000,
};

export interface ChaosResult {
  checks: CheckResult[];
  figures: Figures;
  violations: number;
  summary: string;
  historyPath: string;
}

const TENANT = "acme";

/** The admin sets the tenant's budget before the workload starts (retried while the cluster settles). */
async function setInitialBudget(ctx: WorkloadContext, step: (line: string) => void): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const res = await ctx.call(
      "gateway",
      "budget.set",
      ctx.d.admin,
      "PUT",
      `/v1/tenants/${TENANT}/budget`,
      INITIAL_BUDGET,
      {
        ...INITIAL_BUDGET,
      },
    );
    if (res && isOk(res.answer.status)) return;
    await sleep(500);
  }
  step("could not set the initial budget");
}

/**
 * In-process, before any replica runs: provisions the store, bootstraps the
 * first admin and adds the initial bots (owners of rooms, plain members).
 * Then this host goes away; everything else goes through the replicas.
 */
async function bootstrap(env: Record<string, string>): Promise<{ admin: Bot; owners: Bot[]; members: Bot[] }> {
  const bot = (name: string, kind: Bot["kind"]): Bot => ({
    name,
    kind,
    status: "active",
    key: generateIdentity({ name, tenant: TENANT, url: "http://127.0.0.1" }),
  });
  const admin = bot("admin", "admin");
  const owners = ["alice", "bob", "carol"].map((n) => bot(n, "owner"));
  const members = ["m1", "m2", "m3", "m4", "m5", "m6"].map((n) => bot(n, "member"));
  const host = await startHost({
    env: loadServiceEnv({ ...env, CONCLAVE_PORT: "0", CONCLAVE_LOG_LEVEL: "warn" }),
    modules: [membershipModule],
  });
  try {
    const record = (k: KeyFile, role: "operator" | "member") => ({
      sign_pub: k.signPublicKey,
      kex_pub: k.kexPublicKey,
      tenant: TENANT,
      role,
      scopes: ["rooms:read", "rooms:write", "blobs:read", "blobs:write", "rpc:call"],
      name: k.name,
    });
    const users = userCommands(host.ctx);
    await users.bootstrap(record(admin.key, "operator"));
    for (const b of [...owners, ...members]) {
      await users.add({ signPub: admin.key.signPublicKey, role: "operator", tenant: TENANT }, record(b.key, "member"));
    }
  } finally {
    await host.close();
  }
  return { admin, owners, members };
}

/**
 * One chaos run: a 3-node cluster whose routes go through cuttable proxies,
 * N replicas of each service as OS processes, an admin and bots bootstrapped
 * in-process, the workload and the fault plan running together, then the
 * final state read back and every invariant checked over the history.
 */
export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  await mkdir(opts.outDir, { recursive: true });
  const history = new HistoryRecorder(join(opts.outDir, "history.jsonl"));
  const rng = new Prng(opts.seed);
  const planRng = rng.fork();
  const workRng = rng.fork();
  const dataplaneRng = rng.fork();
  const proxies = new RouteProxies();
  let deploymentRef: Deployment | undefined;
  let cluster: NatsCluster | undefined;
  let store: Store | undefined;
  let rawRef: RawProbes | undefined;
  let dataplaneRef: DataplaneWorkload | undefined;
  const started = Date.now();
  const step = (what: string) => opts.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
  try {
    cluster = await NatsCluster.start({ nodes: 3, routeVia: proxies.routeVia });
    step(`cluster up: ${cluster.urls.join(" ")}, routes through ${proxies.all().length} proxies`);
    const env = {
      CONCLAVE_NATS_URLS: cluster.urls.join(","),
      // Each replica connects as its service's user (Deployment.start); the bootstrap as the operator.
      CONCLAVE_NATS_SEED: cluster.credentials.seeds.operator,
      CONCLAVE_REPLICAS: "3",
      CONCLAVE_OP_TIMEOUT_MS: String(opts.opTimeoutMs),
      CONCLAVE_LOG_LEVEL: "info",
      CONCLAVE_IP_RATE_PER_S: "100000",
      CONCLAVE_IP_BURST: "100000",
    };

    const { admin, owners, members } = await bootstrap(env);
    const deployment = await Deployment.start({
      services: opts.services,
      count: opts.replicas,
      env,
      natsUrls: cluster.urls,
      credentials: cluster.credentials,
      nodeNames: cluster.nodes.map((n) => n.name),
      outDir: opts.outDir,
      ...(opts.dataplane ? { accessTtlS: opts.accessTtlS } : {}),
    });
    deploymentRef = deployment;
    step(
      `bootstrapped admin + ${owners.length + members.length} bots; replicas ${deployment.replicas.map((r) => `${r.name}=${r.url}`).join(" ")}`,
    );

    store = await Store.connect({
      ...cluster.connectOptions("operator"),
      name: "chaos/runner",
      replicas: 3,
      opTimeoutMs: opts.opTimeoutMs,
    });
    const gateway = opts.services.includes("gateway");
    const schemas = { ...membershipModule.eventSchemas, ...(gateway ? SESSION_EVENT_SCHEMAS : {}) };
    const log = new EventLog(store.conn, schemas, { opTimeoutMs: opts.opTimeoutMs });
    const targets = (service: ServiceName) => deployment.targets(service);
    const raw = await RawProbes.connect(
      cluster.nodes,
      seedAuthenticator(cluster.credentials.seeds.operator),
      admin.key.signPublicKey,
      opts.opTimeoutMs,
    );
    rawRef = raw;
    const injector = new FaultInjector({
      cluster,
      proxies,
      replicas: deployment.replicas,
      extraReplicas: deployment.access,
      history,
      recoveryBoundMs: opts.recoveryBoundMs,
      log: step,
      probeStore: (service) => raw.service(service as ServiceName),
      probeVia: (node, service) => raw.via(node, service as ServiceName),
      probeReplica: (r) => deployment.probe(r, admin.key, opts.requestTimeoutMs),
    });
    const ctx = new WorkloadContext({
      history,
      rng: workRng,
      admin,
      owners,
      members,
      tenant: TENANT,
      targets,
      faults: () => injector.snapshot(),
      requestTimeoutMs: opts.requestTimeoutMs,
      thinkMs: opts.thinkMs,
    });
    const blobOps = opts.services.includes("blob") ? new BlobOps(ctx) : undefined;
    const membershipOps = new MembershipOps(ctx);
    const groups: OpGroup[] = [membershipOps, ...(blobOps ? [blobOps] : []), ...(gateway ? [new GatewayOps(ctx)] : [])];
    if (gateway) await setInitialBudget(ctx, step);
    const workload = new Workload(ctx, groups);
    // A handful of bots: 3 owners publishing every 250 ms per room, 4 members listening (2 cores).
    const dataplane = opts.dataplane
      ? new DataplaneWorkload(
          ctx,
          new DataplaneBots(cluster.urls, (r) => history.add(r)),
          () => membershipOps.roomViews(),
          dataplaneRng,
          { listeners: 4, publishEveryMs: 250, probeEveryMs: 1_000, syncEveryMs: 500 },
        )
      : undefined;
    dataplaneRef = dataplane;

    const plan = planFaults(planRng, opts.faults, 200, opts.holdScale);
    history.add({
      type: "meta",
      t: Date.now(),
      seed: opts.seed,
      durationMs: opts.durationMs,
      faults: opts.faults,
      services: opts.services,
      replicas: opts.replicas,
      workers: opts.workers,
      opTimeoutMs: opts.opTimeoutMs,
      nodes: cluster.nodes.map((n) => ({ name: n.name, url: n.url })),
      plan: plan.slice(0, 20),
      // Added in-process by the bootstrap, so no user.add request names them (dataplane-checkers.ts).
      registered: [...owners, ...members].map((b) => b.key.signPublicKey),
      ...(opts.dataplane
        ? { accessTtlS: opts.accessTtlS, dataplaneBoundMs: opts.dataplaneBoundMs, faultSettleMs: opts.faultSettleMs }
        : {}),
    });
    const t0 = Date.now();
    const until = t0 + opts.durationMs;
    step(`workload and faults start (${opts.durationMs / 1000} s, seed ${opts.seed}, faults ${opts.faults.join(",")})`);
    // The workload keeps going until the fault plan is done, so every repair happens under load.
    dataplane?.start();
    let faultsDone = false;
    const faultRun = injector.run(plan, until - 5_000, opts.faults.length, opts.ensureEach).finally(() => {
      faultsDone = true;
    });
    const workRun = (async () => {
      await workload.run(until, opts.workers);
      while (!faultsDone) await workload.run(Date.now() + 2_000, opts.workers);
    })();
    await Promise.all([faultRun, workRun]);
    await dataplane?.stop();
    step(`workload stopped after ${((Date.now() - t0) / 1000).toFixed(1)} s, ${history.requests().length} requests`);

    await cluster.waitHealthy(60_000).catch(() => step("cluster not healthy at the end"));
    const final = await collectFinalState({
      store,
      log,
      admin: admin.key,
      targets,
      requestTimeoutMs: opts.requestTimeoutMs,
      gateway,
      progress: step,
      ...(blobOps ? { blobs: [...new Set(blobOps.stored.map((b) => b.sha256))] } : {}),
    });
    await writeFile(join(opts.outDir, "final-state.json"), JSON.stringify(final));
    step(`final state: ${final.events.length} events${final.error ? `; ${final.error}` : ""}`);

    const checks = runCheckers(history.records, final, {
      revokeBoundMs: opts.revokeBoundMs,
      windowMarginMs: opts.windowMarginMs,
      recoveryBoundMs: opts.recoveryBoundMs,
      dataplaneBoundMs: opts.dataplaneBoundMs,
      admissionLifetimeMs: opts.accessTtlS * 1_000,
      faultSettleMs: opts.faultSettleMs,
    });
    const figures = computeFigures(history.records);
    const summary = renderSummary(figures, checks, {
      seed: opts.seed,
      duration: `${opts.durationMs / 1000}s`,
      faults: opts.faults.join(","),
      services: opts.services.join(","),
      replicas: opts.replicas,
      workers: opts.workers,
      wall: `${((Date.now() - t0) / 1000).toFixed(0)}s`,
    });
    await writeFile(join(opts.outDir, "summary.md"), `${summary}\n`);
    const violations = checks.filter((c) => c.verdict === "FAIL").length;
    return { checks, figures, violations, summary, historyPath: history.path };
  } finally {
    await dataplaneRef?.stop();
    await deploymentRef?.close();
    await store?.close().catch(() => {});
    await rawRef?.close();
    if (cluster) {
      await Promise.allSettled(cluster.nodes.map((n) => copyFile(n.spec.logFile, join(opts.outDir, `${n.name}.log`))));
      await cluster.stop();
    }
    await proxies.close();
    await history.close();
  }
}
