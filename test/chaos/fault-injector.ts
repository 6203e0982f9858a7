import { setTimeout as sleep } from "node:timers/promises";
import { BUCKETS } from "@conclave/store";
import type { NatsCluster } from "@conclave/testkit";
import {
  type AttachmentSample,
  type FaultKind,
  type FaultSnapshot,
  type HistoryRecorder,
  noFaults,
} from "./history.ts";
import type { Prng } from "./prng.ts";
import type { ServiceReplica } from "./replica-process.ts";
import type { RouteProxies } from "./route-proxy.ts";

const USERS_STREAM = `KV_${BUCKETS.users.name}`;

/** One planned fault: what, for how long, after how much calm, and a draw for choosing its target. */
export interface Episode {
  n: number;
  kind: FaultKind;
  gapMs: number;
  holdMs: number;
  pick: number;
}

// How long each fault is held before it is repaired (ms, before --hold-scale).
const HOLD: Record<FaultKind, [number, number]> = {
  kill: [5_000, 9_000], // spans the 4–8 s stream-leader election a SIGKILL causes
  pause: [3_000, 7_000],
  restart: [0, 0], // SIGKILL and start again at once, same store
  replica: [1_000, 3_000],
  quorum: [6_000, 9_000],
  partition: [8_000, 12_000], // longer than an election, so the majority moves on without the minority
  bridge: [8_000, 12_000], // two nodes lose each other, the third sees both: non-transitive connectivity
  oneway: [6_000, 10_000], // a gray failure: one node's outbound dropped silently
  "hung-quorum": [6_000, 9_000], // quorum lost to one dead and one hung node (combined faults)
  planned: [0, 0], // lame duck: the node leaves by itself (about 1 s + grace + a second per client), then starts again
};

/**
 * The seeded fault plan: the first `kinds.length` episodes cover every kind
 * once (in a seeded order), then kinds are drawn at random.
 */
export function planFaults(rng: Prng, kinds: FaultKind[], count: number, holdScale = 1): Episode[] {
  const order = [...rng.shuffle(kinds)];
  while (order.length < count) order.push(rng.pick(kinds) as FaultKind);
  return order.map((kind, i) => {
    const [lo, hi] = HOLD[kind];
    return {
      n: i + 1,
      kind,
      gapMs: Math.round(rng.int(2_000, 5_000) * Math.min(1, holdScale)),
      holdMs: Math.round(rng.int(lo, hi) * holdScale),
      pick: rng.next(),
    };
  });
}

export interface InjectorDeps {
  cluster: NatsCluster;
  proxies: RouteProxies;
  replicas: ServiceReplica[];
  /** Replicas a replica fault may kill too, with no signed API to probe (the access callout). */
  extraReplicas?: ServiceReplica[];
  history: HistoryRecorder;
  /**
   * The NATS operations one service's probe needs (a leader on each stream it
   * touches, a quorum write), done raw on the runner's own connection: the
   * service's recovery minus this one is what Conclave adds.
   */
  probeStore(service: string): Promise<boolean>;
  /** The same, through a connection pinned to one node. */
  probeVia(node: string, service: string): Promise<boolean>;
  /** A signed guarded request through one replica: does it serve? (status 0 = no answer) */
  probeReplica(replica: ServiceReplica): Promise<{ ok: boolean; status: number }>;
  /** How long the service may take to serve again after a fault is repaired. */
  recoveryBoundMs: number;
  log(line: string): void;
}

/** Executes the fault plan one episode at a time and keeps the current fault state for the history. */
export class FaultInjector {
  private readonly deps: InjectorDeps;
  private state: FaultSnapshot = noFaults();
  private stopped = false;
  readonly done: Episode[] = [];

  constructor(deps: InjectorDeps) {
    this.deps = deps;
  }

  /** The fault state now (copied into every request record). */
  snapshot(): FaultSnapshot {
    return {
      ...this.state,
      nodesDown: [...this.state.nodesDown],
      nodesPaused: [...this.state.nodesPaused],
      nodesLameDuck: [...this.state.nodesLameDuck],
      linksCut: [...this.state.linksCut],
      replicasDown: [...this.state.replicasDown],
    };
  }

  stop(): void {
    this.stopped = true;
  }

  /**
   * Runs episodes until `until`; an episode starts only if it fits before it,
   * except that with `ensureEach` the first cycle (every kind once) always runs.
   */
  async run(plan: Episode[], until: number, kinds: number, ensureEach: boolean): Promise<void> {
    for (const e of plan) {
      if (this.stopped) return;
      const mustRun = ensureEach && e.n <= kinds;
      const estimate = e.gapMs + e.holdMs + 8_000;
      if (!mustRun && Date.now() + estimate > until) return;
      await sleep(e.gapMs);
      if (this.stopped) return;
      await this.episode(e);
      this.done.push(e);
    }
  }

  private record(
    e: Episode,
    action: "inject" | "restore" | "recovered" | "recovery_timeout",
    target: string[],
    detail?: Record<string, unknown>,
  ) {
    this.deps.history.add({
      type: "fault",
      t: Date.now(),
      episode: e.n,
      kind: e.kind,
      action,
      target,
      ...(detail ? { detail } : {}),
    });
  }

  private nodeName(pick: number): string {
    const nodes = this.deps.cluster.nodes;
    return (nodes[Math.floor(pick * nodes.length)] ?? nodes[0])?.name as string;
  }

  /** Which NATS node each running replica's connection is attached to (monitoring /connz). */
  async attachments(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const running = this.deps.cluster.nodes.filter((n) => n.state === "running");
    await Promise.all(
      running.map(async (node) => {
        try {
          const res = await fetch(`${node.monitorUrl}/connz?limit=1024`, { signal: AbortSignal.timeout(1_000) });
          const body = (await res.json()) as { connections?: { name?: string }[] };
          for (const c of body.connections ?? []) {
            const instance = c.name?.split("/")[1];
            const replica = this.deps.replicas.find((r) => r.running && instance === `${r.name}-${r.starts}`);
            if (replica) out[replica.name] = node.name;
          }
        } catch {
          // a node that cannot answer attaches nobody we can see
        }
      }),
    );
    return out;
  }

  /**
   * Holds a fault for `holdMs` while sampling `attachments()` every `everyMs`:
   * replicas leave an isolated node by themselves (libs/store isolated-server.ts),
   * so the minority-side check needs to know when each one was there.
   */
  private async sampleAttachments(holdMs: number, everyMs = 250): Promise<AttachmentSample[]> {
    const until = Date.now() + holdMs;
    const samples: AttachmentSample[] = [];
    while (Date.now() < until) {
      const ts = Date.now();
      const attached = await this.attachments();
      samples.push({ ts, te: Date.now(), attached });
      await sleep(Math.min(everyMs, Math.max(0, until - Date.now())));
    }
    return samples;
  }

  /** The node leading the users stream (every signed request reads it), from any node that answers. */
  async usersLeader(): Promise<string | undefined> {
    for (const node of this.deps.cluster.nodes.filter((n) => n.state === "running")) {
      try {
        const res = await fetch(`${node.monitorUrl}/jsz?streams=true`, { signal: AbortSignal.timeout(1_000) });
        const body = (await res.json()) as {
          account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
        };
        for (const a of body.account_details ?? [])
          for (const st of a.stream_detail ?? [])
            if (st.name === USERS_STREAM && st.cluster?.leader) return st.cluster.leader;
      } catch {
        // ask the next node
      }
    }
    return undefined;
  }

  /** Starts a node again on its ports and store; retried, as a port may be briefly taken by a client socket. */
  private async startNode(name: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.deps.cluster.node(name).start();
        return;
      } catch (err) {
        if (attempt >= 3) throw err;
        this.deps.log(`${name} did not start (${(err as Error).message.split("\n")[0]}); retrying`);
        await sleep(1_000);
      }
    }
  }

  private async episode(e: Episode): Promise<void> {
    const { cluster, proxies, replicas } = this.deps;
    const s = this.state;
    s.episode = e.n;
    s.kind = e.kind;
    s.phase = "active";
    this.deps.log(`fault #${e.n} ${e.kind} (hold ${e.holdMs} ms)`);
    let target: string[] = [];
    switch (e.kind) {
      case "kill": {
        target = [this.nodeName(e.pick)];
        await cluster.kill(target[0] as string);
        s.nodesDown = target;
        this.record(e, "inject", target);
        await sleep(e.holdMs);
        this.record(e, "restore", target);
        s.nodesDown = [];
        await this.startNode(target[0] as string);
        break;
      }
      case "pause": {
        target = [this.nodeName(e.pick)];
        cluster.pause(target[0] as string);
        s.nodesPaused = target;
        this.record(e, "inject", target);
        await sleep(e.holdMs);
        this.record(e, "restore", target);
        s.nodesPaused = [];
        cluster.resume(target[0] as string);
        break;
      }
      case "restart": {
        target = [this.nodeName(e.pick)];
        await cluster.kill(target[0] as string);
        s.nodesDown = target;
        this.record(e, "inject", target);
        this.record(e, "restore", target);
        s.nodesDown = [];
        await this.startNode(target[0] as string);
        break;
      }
      case "replica": {
        const pool = [...replicas, ...(this.deps.extraReplicas ?? [])];
        const replica = pool[Math.floor(e.pick * pool.length)] ?? (pool[0] as ServiceReplica);
        target = [replica.name];
        s.replicasDown = target;
        await replica.kill();
        this.record(e, "inject", target);
        await sleep(e.holdMs);
        this.record(e, "restore", target);
        await replica.start();
        s.replicasDown = [];
        break;
      }
      case "quorum": {
        const survivor = this.nodeName(e.pick);
        target = cluster.nodes.map((n) => n.name).filter((n) => n !== survivor);
        // Killed one after the other: quorum is lost when the second one is dead.
        for (const n of target) await cluster.kill(n);
        s.nodesDown = target;
        s.quorumLost = true;
        this.record(e, "inject", target, { survivor });
        await sleep(e.holdMs);
        // Quorum may return as soon as the processes exist: the window closes before they start.
        this.record(e, "restore", target);
        s.quorumLost = false;
        s.nodesDown = [];
        await Promise.all(target.map((n) => this.startNode(n)));
        break;
      }
      case "planned": {
        // A planned restart of the node most replicas talk to: they must move off it without failing a request.
        const before = await this.attachments();
        const attached = Object.values(before);
        const busiest = [...new Set(attached)].sort(
          (a, b) => attached.filter((n) => n === b).length - attached.filter((n) => n === a).length,
        )[0];
        target = [busiest ?? this.nodeName(e.pick)];
        s.nodesLameDuck = target;
        const exited = cluster.lameDuck(target[0] as string);
        this.record(e, "inject", target, { attached: before });
        await exited;
        s.nodesLameDuck = [];
        s.nodesDown = target;
        this.record(e, "restore", target);
        s.nodesDown = [];
        await this.startNode(target[0] as string);
        break;
      }
      case "bridge": {
        // The users-stream leader and one other node lose each other; the third still reaches
        // both. A deposed leader that keeps answering reads is what the witness must catch.
        const leader = await this.usersLeader();
        const other = cluster.nodes.map((n) => n.name).filter((n) => n !== leader);
        const peer = other[Math.floor(e.pick * other.length)] ?? (other[0] as string);
        target = [leader ?? this.nodeName(e.pick), peer];
        proxies.cutBetween(target[0] as string, peer);
        s.linksCut = proxies.cutLinks();
        this.record(e, "inject", target, { attached: await this.attachments(), linksCut: s.linksCut });
        await sleep(e.holdMs);
        this.record(e, "restore", target);
        proxies.healAll();
        s.linksCut = [];
        break;
      }
      case "oneway": {
        // Everything the node sends to its peers vanishes; it still hears them. Prefer the
        // users-stream leader: its followers stop hearing it, it keeps hearing the new leader.
        target = [(await this.usersLeader()) ?? this.nodeName(e.pick)];
        proxies.muteOutbound(target[0] as string);
        s.linksCut = proxies.cutLinks();
        this.record(e, "inject", target, { attached: await this.attachments(), linksCut: s.linksCut });
        const timeline = await this.sampleAttachments(e.holdMs);
        this.record(e, "restore", target, { attached: await this.attachments(), timeline });
        proxies.healAll();
        s.linksCut = [];
        break;
      }
      case "hung-quorum": {
        // Quorum lost to one SIGKILLed and one SIGSTOPped node: the hung one keeps its sockets
        // open, so clients attached to it hang rather than fail over.
        const names = cluster.nodes.map((n) => n.name);
        const survivor = this.nodeName(e.pick);
        const [dead, hung] = names.filter((n) => n !== survivor) as [string, string];
        target = [dead, hung];
        await cluster.kill(dead);
        s.nodesDown = [dead];
        cluster.pause(hung);
        s.nodesPaused = [hung];
        s.quorumLost = true;
        this.record(e, "inject", target, { survivor, dead, hung });
        await sleep(e.holdMs);
        this.record(e, "restore", target);
        s.quorumLost = false;
        s.nodesDown = [];
        s.nodesPaused = [];
        cluster.resume(hung);
        await this.startNode(dead);
        break;
      }
      case "partition": {
        // Isolate the node most pinned replicas (which cannot leave it) talk to, else any
        // replica's, so the minority side has clients to mislead.
        const attached = await this.attachments();
        const pinnedOn = this.deps.replicas
          .filter((r) => r.running && r.pinnedTo && attached[r.name])
          .map((r) => attached[r.name] as string);
        const most = Math.max(0, ...pinnedOn.map((n) => pinnedOn.filter((m) => m === n).length));
        const busiest = [...new Set(pinnedOn)].filter((n) => pinnedOn.filter((m) => m === n).length === most);
        const victims = busiest.length > 0 ? busiest : Object.values(attached);
        const node =
          victims.length > 0 ? (victims[Math.floor(e.pick * victims.length)] as string) : this.nodeName(e.pick);
        target = [node];
        proxies.isolate(node);
        s.linksCut = proxies.cutLinks();
        this.record(e, "inject", target, { attached, linksCut: s.linksCut });
        const timeline = await this.sampleAttachments(e.holdMs);
        this.record(e, "restore", target, { attached: await this.attachments(), timeline });
        proxies.healAll();
        s.linksCut = [];
        break;
      }
    }
    s.phase = "recovering";
    await this.awaitRecovery(e, target);
    s.episode = undefined;
    s.kind = undefined;
    s.phase = undefined;
  }

  /**
   * From the repair on, probes the store (raw quorum write) and every running
   * replica (signed guarded read) every 200 ms — overlapping, so a probe stuck
   * in a timeout does not blur the figure — until each has succeeded once.
   * Then waits for every node to be healthy (streams caught up), so the next
   * episode starts from a whole cluster.
   */
  private async awaitRecovery(e: Episode, target: string[]): Promise<void> {
    const from = Date.now();
    const deadline = from + this.deps.recoveryBoundMs;
    // Raw NATS recovery per service (the streams that service needs), and each replica's.
    const rawMs: Record<string, number> = {};
    const serviceMs: Record<string, number> = {};
    const h = this.deps.history;
    const inflight = new Set<Promise<void>>();
    const launch = (probe: () => Promise<void>) => {
      const p = probe().finally(() => inflight.delete(p));
      inflight.add(p);
    };
    const services = [...new Set(this.deps.replicas.map((r) => r.service))];
    const rawPending = () => services.filter((svc) => rawMs[svc] === undefined);
    const pending = () => this.deps.replicas.filter((r) => r.running && serviceMs[r.name] === undefined);
    // Raw NATS through each running node, per service: what a replica attached there can expect.
    const rawNodeMs: Record<string, number> = {};
    const pairs = this.deps.cluster.nodes
      .filter((n) => n.state === "running")
      .flatMap((n) => services.map((svc) => [n.name, svc] as const));
    const nodePending = () => pairs.filter(([n, svc]) => rawNodeMs[`${n}/${svc}`] === undefined);
    while (Date.now() < deadline && (rawPending().length > 0 || pending().length > 0 || nodePending().length > 0)) {
      for (const [node, svc] of nodePending()) {
        launch(async () => {
          const t0 = Date.now();
          const ok = await this.deps.probeVia(node, svc);
          const t1 = Date.now();
          h.add({ type: "probe", t0, t1, episode: e.n, via: `${node}:${svc}`, ok });
          if (ok && rawNodeMs[`${node}/${svc}`] === undefined) rawNodeMs[`${node}/${svc}`] = t1 - from;
        });
      }
      for (const svc of rawPending()) {
        launch(async () => {
          const t0 = Date.now();
          const ok = await this.deps.probeStore(svc);
          const t1 = Date.now();
          h.add({ type: "probe", t0, t1, episode: e.n, via: `store:${svc}`, ok });
          if (ok && rawMs[svc] === undefined) rawMs[svc] = t1 - from;
        });
      }
      for (const r of pending()) {
        launch(async () => {
          const t0 = Date.now();
          const { ok, status } = await this.deps.probeReplica(r);
          const t1 = Date.now();
          h.add({ type: "probe", t0, t1, episode: e.n, via: r.name, ok, status });
          if (ok && serviceMs[r.name] === undefined) serviceMs[r.name] = t1 - from;
        });
      }
      await sleep(200);
    }
    await Promise.all([...inflight]);
    // NATS as the membership read needs it (the figure of earlier runs).
    const storeMs = rawMs.membership;
    const recovered =
      rawPending().length === 0 && this.deps.replicas.every((r) => !r.running || serviceMs[r.name] !== undefined);
    // Per service: when its last replica served again.
    const byService: Record<string, number> = {};
    for (const r of this.deps.replicas) {
      const at = serviceMs[r.name];
      if (at !== undefined) byService[r.service] = Math.max(byService[r.service] ?? 0, at);
    }
    const service = Object.values(serviceMs);
    // Each replica against raw NATS through the node it is attached to now: what Conclave adds.
    const attachedAfter = await this.attachments();
    const ownMs: Record<string, number> = {};
    for (const r of this.deps.replicas) {
      const at = serviceMs[r.name];
      const raw = rawNodeMs[`${attachedAfter[r.name]}/${r.service}`];
      if (at !== undefined && raw !== undefined) ownMs[r.name] = at - raw;
    }
    const detail = {
      storeMs,
      rawMs,
      rawNodeMs,
      attachedAfter,
      ownMs,
      serviceMs,
      byService,
      allServiceMs: service.length > 0 ? Math.max(...service) : undefined,
    };
    if (!recovered) {
      this.record(e, "recovery_timeout", target, detail);
      this.deps.log(`fault #${e.n} ${e.kind}: NOT recovered within ${this.deps.recoveryBoundMs} ms`);
    }
    const healthyFrom = Date.now();
    let healthyMs: number | undefined;
    try {
      await this.deps.cluster.waitHealthy(60_000);
      healthyMs = Date.now() - from;
    } catch {
      this.deps.log(`fault #${e.n}: cluster not healthy 60 s after the repair`);
    }
    if (recovered)
      this.record(e, "recovered", target, { ...detail, healthyMs, healthyWaitMs: Date.now() - healthyFrom });
    this.deps.log(
      `fault #${e.n} ${e.kind} ${target.join(",")}: ${Object.entries(byService)
        .map(([k, v]) => `${k} ${v} ms (raw NATS ${rawMs[k] ?? "-"} ms)`)
        .join(", ")}, nodes healthy ${healthyMs ?? "-"} ms`,
    );
  }
}
