import { ApiError } from "@conclave/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";

/**
 * How a route takes its body, chosen per route with `config: { body }`:
 * - "json" (default): application/json, parsed and capped at the JSON ceiling;
 * - "stream": application/octet-stream, handed over unbuffered as a byte-counted Readable;
 * - "none": no body at all.
 */
export type BodyKind = "json" | "stream" | "none";

declare module "fastify" {
  interface FastifyContextConfig {
    body?: BodyKind;
  }
}

export interface BodyCeilings {
  jsonBodyBytes: number;
  blobBodyBytes: number;
}

/** What the edge knows about a request's body from its headers alone, before reading it. */
export interface BodyPlan {
  kind: BodyKind;
  /** The most bytes this route accepts. */
  ceiling: number;
  /** Declared Content-Length, if any. */
  declared: number | undefined;
  /** Framed without a length (chunked): only the ceiling bounds it. */
  chunked: boolean;
  /** Worst case the body can occupy, reserved by the in-flight limiter. */
  worstCase: number;
}

export const BODY_SIZE_REASON = "body_size";

/** The body plan of a request, computed once from its route and headers. */
export type BodyPlanner = (request: FastifyRequest) => BodyPlan;

export function bodyKindOf(request: FastifyRequest): BodyKind {
  return request.routeOptions.config.body ?? "json";
}

/** One per edge: every guard and parser of that edge reads the same plan for a request. */
export function createBodyPlanner(ceilings: BodyCeilings): BodyPlanner {
  const plans = new WeakMap<FastifyRequest, BodyPlan>();
  return (request) => {
    const known = plans.get(request);
    if (known) return known;
    const kind = bodyKindOf(request);
    // A route may lower (or raise) the JSON ceiling with fastify's own `bodyLimit`.
    const ceiling =
      kind === "none"
        ? 0
        : kind === "stream"
          ? ceilings.blobBodyBytes
          : (request.routeOptions.bodyLimit ?? ceilings.jsonBodyBytes);
    const declared = parseContentLength(request.headers["content-length"]);
    const chunked = request.headers["transfer-encoding"] !== undefined;
    const worstCase = declared ?? (chunked ? ceiling : 0);
    const plan = { kind, ceiling, declared, chunked, worstCase };
    plans.set(request, plan);
    return plan;
  };
}

function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  // Node's parser already rejects malformed lengths on the wire; this guards other transports.
  if (!/^\d{1,15}$/.test(value)) throw new ApiError("bad_request", "invalid Content-Length");
  return Number(value);
}

function mediaType(request: FastifyRequest): string {
  return (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * Refuses, from headers only, a body the route cannot take: no body byte has been
 * read yet, so an oversized upload costs the node nothing but this answer.
 */
export function admitBody(plan: BodyPlan, request: FastifyRequest): void {
  const hasBody = (plan.declared ?? 0) > 0 || plan.chunked;
  if (!hasBody) return;
  if (plan.kind === "none") {
    // 413 rather than 400: "none" is a ceiling of zero bytes, refused like any other ceiling.
    throw new ApiError("payload_too_large", "this route takes no request body", { reason: BODY_SIZE_REASON });
  }
  if (plan.declared !== undefined && plan.declared > plan.ceiling) {
    throw new ApiError("payload_too_large", `request body larger than ${plan.ceiling} bytes`, {
      reason: BODY_SIZE_REASON,
    });
  }
  const type = mediaType(request);
  if (plan.kind === "stream" && type !== "application/octet-stream") {
    throw new ApiError("bad_request", "this route takes an application/octet-stream body");
  }
  if (plan.kind === "json" && type === "application/octet-stream") {
    throw new ApiError("bad_request", "this route takes an application/json body");
  }
}

/** onRequest: the declared-size step of the edge. */
export function installBodyGuard(app: FastifyInstance, planOf: BodyPlanner): void {
  app.addHook("onRequest", async (request) => {
    admitBody(planOf(request), request);
  });
}
