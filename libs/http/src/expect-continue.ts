import type { FastifyInstance } from "fastify";

/**
 * Node answers `Expect: 100-continue` by itself, before any hook runs, inviting
 * the body of a request the edge may be about to refuse. Here the request goes
 * through the onRequest guards first and `100 Continue` is sent only once it was
 * admitted (preParsing, right before the body is read); a refused client never
 * sends its body at all.
 */
export function installExpectContinue(app: FastifyInstance): void {
  app.server.on("checkContinue", (req, res) => {
    app.server.emit("request", req, res);
  });
  app.addHook("preParsing", async (request, reply, payload) => {
    const expect = request.headers.expect;
    if (typeof expect === "string" && expect.toLowerCase() === "100-continue" && !reply.raw.headersSent) {
      reply.raw.writeContinue();
    }
    return payload;
  });
}
