import { randomUUID } from "node:crypto";
import { bearerWire, signWire } from "./signed-call.ts";
import { type Bot, isOk, type OpGroup, type WorkloadContext } from "./workload.ts";

/** The methods the chaos upstream serves, with the gateway's cost estimates (CONCLAVE_GATEWAY_METHODS). */
export const CHAOS_METHODS = {
  "chaos.work": { kind: "mutation", input: 20, output: 4, timeout_ms: 2_000 },
  "chaos.read": { kind: "read", input: 2, output: 1, timeout_ms: 2_000 },
} as const;

/**
 * The tenant's budget at the start. The workload spends faster than the admin
 * raises it (never lowers it), so calls run into budget_exceeded mid-run.
 */
export const INITIAL_BUDGET = { input: 1_000, output: 800 };

interface Token {
  token: string;
  jti: string;
  bot: Bot;
  state: "live" | "revoking" | "revoked";
}

/**
 * Gateway operations: sessions opened by bots, budgeted RPC calls with the
 * session token (bearer) or signed, token revocations and probes with
 * revoked tokens, budget reads (samples for the overspend checker) and
 * budget raises by the admin.
 */
export class GatewayOps implements OpGroup {
  private readonly c: WorkloadContext;
  private readonly tokens: Token[] = [];
  private budget = { ...INITIAL_BUDGET };

  constructor(ctx: WorkloadContext) {
    this.c = ctx;
  }

  weights(): Record<string, number> {
    const live = this.tokens.filter((t) => t.state === "live" && t.bot.status === "active").length;
    return {
      sessionOpen: live < 8 ? 3 : 1,
      rpcCall: 9,
      tokenRevoke: live > 2 ? 1 : 0,
      tokenProbe: this.tokens.some((t) => t.state !== "live") ? 2 : 0,
      budgetGet: 2,
      budgetRaise: 0.1,
    };
  }

  run(op: string): Promise<void> {
    switch (op) {
      case "sessionOpen":
        return this.sessionOpen();
      case "rpcCall":
        return this.rpcCall();
      case "tokenRevoke":
        return this.tokenRevoke();
      case "tokenProbe":
        return this.tokenProbe();
      case "budgetGet":
        return this.budgetGet();
      default:
        return this.budgetRaise();
    }
  }

  private async sessionOpen(): Promise<void> {
    const bot = this.c.rng.pick(this.c.active());
    if (!bot) return;
    const res = await this.c.call("gateway", "session.open", bot, "POST", "/v1/sessions", { ttl_s: 900 }, {});
    if (res && isOk(res.answer.status)) {
      const s = res.answer.body as { token: string; jti: string };
      this.tokens.push({ token: s.token, jti: s.jti, bot, state: "live" });
    }
  }

  private async rpcCall(): Promise<void> {
    const method = this.c.rng.chance(0.7) ? "chaos.work" : "chaos.read";
    const envelope = { protocol: "conclave.v1", id: randomUUID(), method, params: { n: this.c.rng.int(1, 1_000) } };
    const target = this.c.target("gateway");
    const live = this.tokens.filter((t) => t.state === "live" && t.bot.status === "active");
    const token = this.c.rng.chance(0.7) ? this.c.rng.pick(live) : undefined;
    if (!target) return;
    if (token) {
      const wire = bearerWire(token.token, "POST", "/v1/rpc", envelope);
      await this.c.exec("rpc.call", token.bot, wire, { method, jti: token.jti, bearer: true }, target);
      return;
    }
    const bot = this.c.rng.pick(this.c.active());
    if (bot) await this.c.exec("rpc.call", bot, signWire(bot.key, "POST", "/v1/rpc", envelope), { method }, target);
  }

  private async tokenRevoke(): Promise<void> {
    const t = this.c.rng.pick(this.tokens.filter((x) => x.state === "live" && x.bot.status === "active"));
    if (!t) return;
    t.state = "revoking";
    // The holder revokes its own token, or the admin does.
    const who = this.c.rng.chance(0.5) ? t.bot : this.c.d.admin;
    const path = `/v1/tokens/${t.jti}/revoke`;
    const res = await this.c.call("gateway", "token.revoke", who, "POST", path, { reason: "chaos" }, { jti: t.jti });
    if (res && isOk(res.answer.status)) t.state = "revoked";
  }

  private async tokenProbe(): Promise<void> {
    const t = this.c.rng.pick(this.tokens.filter((x) => x.state !== "live"));
    const target = this.c.target("gateway");
    if (!t || !target) return;
    const envelope = { protocol: "conclave.v1", id: randomUUID(), method: "chaos.read", params: { n: 0 } };
    const wire = this.c.rng.chance(0.5)
      ? bearerWire(t.token, "POST", "/v1/rpc", envelope)
      : bearerWire(t.token, "GET", "/v1/budget");
    await this.c.exec("token.probe", t.bot, wire, { jti: t.jti, bearer: true }, target);
  }

  private async budgetGet(): Promise<void> {
    await this.c.call("gateway", "budget.get", this.c.d.admin, "GET", "/v1/budget", undefined, {});
  }

  private async budgetRaise(): Promise<void> {
    // Monotonic even when an answer is lost: the next raise starts from what was asked.
    this.budget = { input: this.budget.input + 200, output: this.budget.output + 100 };
    const path = `/v1/tenants/${this.c.d.tenant}/budget`;
    await this.c.call("gateway", "budget.set", this.c.d.admin, "PUT", path, this.budget, { ...this.budget });
  }
}
