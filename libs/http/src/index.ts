/**
 * @conclave/http — the HTTP edge every Conclave service sits behind.
 *
 * Order of work on every request (fastify lifecycle; hooks run in the order added):
 *
 *   onRequest   1. x-request-id echoed (a sane incoming id, else a fresh UUID)
 *               2. metrics start (so shed requests are counted too)
 *               3. per-IP token bucket → 429 rate_limited      (health routes exempt)
 *               4. request target: fragments, absolute-form, dot segments, // , ';', encoded
 *                  delimiters → 400 (what the router reads must be what the signature covers)
 *               5. declared size: Content-Length vs the route's ceiling → 413, media type → 400
 *               6. in-flight reservation of the worst-case body size → 503 overloaded
 *               All before a single body byte is read. A refusal while the body is still
 *               unread closes the connection rather than draining a body of unknown size.
 *   preParsing  `100 Continue` is sent only now, to admitted requests
 *   parsing     by route `config.body`: "json" (default; capped buffer, raw bytes kept),
 *               "stream" (unbuffered, byte-counted Readable), "none" (no body)
 *   preHandler  authentication — added by the services, NOT here: plain fastify
 *               `app.addHook("preHandler", ...)` after createEdge(). It runs after the
 *               body is available (parsed JSON plus rawJsonBody() for Content-Digest;
 *               for stream routes, the not-yet-read Readable).
 *   handler
 *   onResponse  reservation released (also on client abort / socket close), metrics recorded
 *
 * Errors anywhere go through one handler and leave in the wire shape of @conclave/protocol.
 */

export type { BodyKind } from "./body-plan.ts";
export { createEdge, type Edge } from "./edge.ts";
export type { EdgeLimits, EdgeOptions, ResolvedEdgeOptions } from "./edge-options.ts";
export { resolveEdgeOptions } from "./edge-options.ts";
export { sendApiError, toApiError } from "./error-handler.ts";
export { HEALTH_ROUTES } from "./health-routes.ts";
export { InflightLimiter, type InflightLimiterOptions, type Reservation } from "./inflight-limiter.ts";
export { IpRateLimiter, type IpRateLimiterOptions, type RateDecision } from "./ip-rate-limiter.ts";
export { rawJsonBody } from "./json-body.ts";
export { REQUEST_ID_HEADER } from "./request-id.ts";
export { requestTargetProblem } from "./request-target.ts";
export type { ShutdownOptions, ShutdownReport } from "./shutdown.ts";
export { storeErrorToApi } from "./store-errors.ts";
export { streamBody } from "./stream-body.ts";
