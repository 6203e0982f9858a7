import type { FastifyInstance, FastifyRequest } from "fastify";

// The JSON parser keeps the exact bytes it parsed: verifying a Content-Digest
// (RFC 9530) later, in the authentication preHandler, needs them, and reading
// the body a second time is impossible (and would buffer it twice).
const rawBodies = new WeakMap<FastifyRequest, Buffer>();

/**
 * Leaves only the parsers the edge knows: application/json (capped by the route's
 * bodyLimit, i.e. the JSON ceiling) here, application/octet-stream in stream-body.ts.
 * Any other media type is refused before its body is read.
 */
export function installJsonParser(app: FastifyInstance): void {
  // Prototype poisoning (`__proto__`, `constructor.prototype`) is refused, not stripped.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    const bytes = typeof body === "string" ? Buffer.from(body) : body;
    rawBodies.set(request, bytes);
    parseJson(request, bytes.toString("utf8"), done);
  });
}

/** The exact bytes of a parsed JSON body (undefined for other routes or bodiless requests). */
export function rawJsonBody(request: FastifyRequest): Buffer | undefined {
  return rawBodies.get(request);
}
