import type { UsageUnits } from "@conclave/protocol";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { ZodType } from "zod";
import { RPC_QUEUE_GROUP, rpcSubject } from "./rpc-subjects.ts";
import { HANDLER_ERROR_CODES, type HandlerErrorCode, RPC_HEADERS, type UpstreamReply } from "./rpc-wire.ts";

/** One call as a handler sees it. */
export interface RpcCall<P> {
  method: string;
  params: P;
  tenant: string;
  /** The caller's sign_pub. */
  subject: string;
  scopes: string[];
  requestId: string;
  /** Epoch ms after which the gateway has stopped waiting; `signal` fires then. */
  deadline: number;
  signal: AbortSignal;
  /** Units this call consumed; the last report wins and is recorded against the tenant's budget. */
  reportUsage(usage: UsageUnits): void;
}

export type RpcHandler<P> = (call: RpcCall<P>) => unknown;

export interface ServeRpcOptions<P> {
  method: string;
  handler: RpcHandler<P>;
  /** Validates params; a failure answers bad_request naming the field. */
  params?: ZodType<P>;
  /** Default: the shared group, so every process serving the method takes a share. */
  queue?: string;
  /** Told about every unexpected handler failure (the caller only sees a generic error). */
  onError?: (err: unknown, call: { method: string; tenant: string; requestId: string }) => void;
}

/** A failure whose message the handler declares safe to show the caller. */
export class RpcHandlerError extends Error {
  readonly code: HandlerErrorCode;

  constructor(code: HandlerErrorCode, message: string) {
    super(message);
    this.name = "RpcHandlerError";
    if (!HANDLER_ERROR_CODES.includes(code)) throw new Error(`unknown handler error code ${code}`);
    this.code = code;
  }
}

export interface RpcServer {
  subject: string;
  /** The current queue subscription (a new one after a lame-duck move). */
  readonly subscription: Subscription;
  /** Stops taking calls and waits for the ones in progress to be answered. */
  stop(): Promise<void>;
}

const encoder = new TextEncoder();

function answer(msg: Msg, reply: UpstreamReply): void {
  if (msg.reply) msg.respond(encoder.encode(JSON.stringify(reply)));
}

/**
 * Serves one RPC method: subscribes to its subject in the method's queue group
 * and answers each call with `{result, usage?}` or `{error, usage?}`.
 */
export function serveRpc<P = unknown>(nc: NatsConnection, options: ServeRpcOptions<P>): RpcServer {
  const subject = rpcSubject(options.method);
  const inFlight = new Set<Promise<void>>();

  const handle = async (msg: Msg): Promise<void> => {
    const headers = msg.headers;
    const deadline = Number(headers?.get(RPC_HEADERS.deadline)) || Date.now() + 30_000;
    const meta = {
      method: options.method,
      tenant: headers?.get(RPC_HEADERS.tenant) ?? "",
      requestId: headers?.get(RPC_HEADERS.requestId) ?? "",
    };
    let usage: UsageUnits | undefined;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("deadline passed")), Math.max(0, deadline - Date.now()));
    try {
      let raw: unknown;
      try {
        raw = (msg.json() as { params?: unknown }).params;
      } catch {
        throw new RpcHandlerError("bad_request", "request is not JSON");
      }
      let params = raw as P;
      if (options.params) {
        const parsed = options.params.safeParse(raw);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          const field = ["params", ...(issue?.path ?? []).map(String)].join(".");
          throw new RpcHandlerError("bad_request", `invalid ${field}: ${issue?.message ?? "invalid value"}`);
        }
        params = parsed.data;
      }
      const result = await options.handler({
        ...meta,
        params,
        subject: headers?.get(RPC_HEADERS.subject) ?? "",
        scopes: (headers?.get(RPC_HEADERS.scopes) ?? "").split(" ").filter(Boolean),
        deadline,
        signal: abort.signal,
        reportUsage(u) {
          usage = { input: u.input, output: u.output };
        },
      });
      answer(msg, { result: result ?? null, ...(usage ? { usage } : {}) });
    } catch (err) {
      if (!(err instanceof RpcHandlerError)) options.onError?.(err, meta);
      const error =
        err instanceof RpcHandlerError
          ? { code: err.code, message: err.message }
          : { code: "internal" as const, message: "handler failed" };
      answer(msg, { error, ...(usage ? { usage } : {}) });
    } finally {
      clearTimeout(timer);
    }
  };

  const subscribe = () =>
    nc.subscribe(subject, {
      queue: options.queue ?? RPC_QUEUE_GROUP,
      callback: (err, msg) => {
        if (err) return;
        const call = handle(msg);
        inFlight.add(call);
        void call.finally(() => inFlight.delete(call));
      },
    });
  let subscription = subscribe();
  let stopped = false;

  // A planned stop of our server (lame-duck mode) closes this connection after
  // a grace period. Leave the queue group at once — the group's other members
  // take the new calls — and answer the calls in progress while the connection
  // still stands; join again once the client has reconnected elsewhere.
  void (async () => {
    let leaving = false;
    for await (const status of nc.status()) {
      if (stopped) return;
      if (status.type === "ldm" && !leaving) {
        leaving = true;
        await subscription.drain().catch(() => {});
      } else if (status.type === "reconnect" && leaving) {
        leaving = false;
        subscription = subscribe();
      }
    }
  })();

  return {
    subject,
    get subscription() {
      return subscription;
    },
    async stop() {
      stopped = true;
      await subscription.drain();
      await Promise.all(inFlight);
    },
  };
}
