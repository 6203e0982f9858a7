import { finished, Readable, Transform } from "node:stream";
import { ApiError } from "@conclave/protocol";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { BODY_SIZE_REASON, type BodyPlanner } from "./body-plan.ts";

/**
 * Wraps a request body in a pass-through that counts bytes and errors the moment
 * the count passes the ceiling or the declared length. Nothing is buffered here:
 * backpressure from the consumer reaches the socket, so a slow handler slows the
 * sender instead of filling memory.
 */
export function countBody(source: Readable, plan: { ceiling: number; declared: number | undefined }): Readable {
  let seen = 0;
  const counted = new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      seen += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
      // Checked per chunk, before forwarding it: the consumer never sees a byte past the limit
      // (chunked senders and senders whose Content-Length lies).
      if (seen > plan.ceiling) {
        callback(
          new ApiError("payload_too_large", `request body larger than ${plan.ceiling} bytes`, {
            reason: BODY_SIZE_REASON,
          }),
        );
      } else if (plan.declared !== undefined && seen > plan.declared) {
        callback(new ApiError("bad_request", "request body longer than its Content-Length"));
      } else {
        callback(null, chunk);
      }
    },
    flush(callback) {
      const short = plan.declared !== undefined && seen < plan.declared;
      callback(short ? new ApiError("bad_request", "request body shorter than its Content-Length") : null);
    },
  });
  source.pipe(counted);
  // A client that vanishes mid-upload must surface as an error, never as a clean end
  // of a truncated body that a handler would store.
  finished(source, (err) => {
    if (err) counted.destroy(new ApiError("bad_request", "request body ended early", { cause: err }));
  });
  // Stop feeding on error; the edge answers (or the socket is gone). The listener also keeps
  // an error on a body nobody reads from becoming an uncaught exception.
  counted.on("error", () => source.unpipe(counted));
  return counted;
}

/** Registers the unbuffered application/octet-stream parser used by `body: "stream"` routes. */
export function installStreamParser(app: FastifyInstance, planOf: BodyPlanner): void {
  app.addContentTypeParser("application/octet-stream", (request, payload, done) => {
    const plan = planOf(request);
    // The onRequest guard already refuses this; kept so a stream can never reach a JSON route.
    if (plan.kind !== "stream") {
      done(new ApiError("bad_request", "this route takes an application/json body"), undefined);
      return;
    }
    done(null, countBody(payload, plan));
  });
}

/**
 * The body of a `body: "stream"` route, as a byte-counted Readable. A request
 * without a body reads as an empty stream.
 */
export function streamBody(request: FastifyRequest): Readable {
  if (request.body instanceof Readable) return request.body;
  if (request.body === undefined || request.body === null) return Readable.from([]);
  // A programming error (route not declared as a stream route): a 500, not a client error.
  throw new Error(`route ${request.routeOptions.url ?? "?"} is not declared with config.body = "stream"`);
}
