import { ApiError } from "@conclave/protocol";
import type { FastifyInstance } from "fastify";

/**
 * What is verified must be what is routed. The signature covers the request
 * target as bytes (RFC 9421 @path, @query); the router (find-my-way) and
 * fastify's query parser read the same bytes with their own grammar. Every
 * form on which the two, or an intermediary in front of them, could disagree
 * is refused here, before anything else reads the target:
 *
 * - a fragment: never part of a request target; the verifier drops it while
 *   fastify parses what follows `#` as the query (issue 15, item 1: a signed
 *   empty query reached `GET /v1/audit?tenant=x`);
 * - absolute-form and asterisk-form: the router strips scheme and authority the
 *   signer may have covered; Conclave is no proxy, clients send origin-form;
 * - doubled slashes, dot segments (also percent-encoded): proxies merge and
 *   resolve them, so the path that arrives is not the one that was signed;
 * - `;` path parameters, `\`, and percent-encoded `/ ? # ; \` or NUL in the path:
 *   some proxies and routers cut or decode at these, and no Conclave
 *   identifier needs them;
 * - a malformed percent-encoding anywhere (decoders disagree on it).
 *
 * The query is otherwise taken as sent: fastify parses exactly the bytes the
 * signature covers as @query.
 */
export function requestTargetProblem(target: string): string | undefined {
  if (!target.startsWith("/")) return "the request target must be origin-form (/path?query)";
  if (target.includes("#")) return "the request target must not carry a fragment";
  if (/%(?![0-9A-Fa-f]{2})/.test(target)) return "the request target has a malformed percent-encoding";
  const mark = target.indexOf("?");
  const path = mark === -1 ? target : target.slice(0, mark);
  if (path.includes("//")) return "the request path must not contain doubled slashes";
  if (path.includes(";")) return "the request path must not contain ';' parameters";
  if (path.includes("\\")) return "the request path must not contain a backslash";
  if (/%(2f|3f|23|3b|5c|00)/i.test(path)) return "the request path must not percent-encode a delimiter";
  for (const segment of path.split("/")) {
    const decoded = segment.replace(/%2e/gi, ".");
    if (decoded === "." || decoded === "..") return "the request path must not contain dot segments";
  }
  return undefined;
}

/** onRequest: refuses a target the router could read differently from the verifier (400, before any auth). */
export function installRequestTargetGuard(app: FastifyInstance): void {
  app.addHook("onRequest", async (request) => {
    const problem = requestTargetProblem(request.raw.url ?? "");
    if (problem !== undefined) throw new ApiError("bad_request", problem, { reason: "request_target" });
  });
}
