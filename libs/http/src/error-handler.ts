import { STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import { ApiError, isApiError } from "@conclave/protocol";
import { StoreError } from "@conclave/store";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { BODY_SIZE_REASON } from "./body-plan.ts";
import { REQUEST_ID_HEADER } from "./request-id.ts";
import { storeErrorToApi } from "./store-errors.ts";

/**
 * Everything a client sees as an error goes through here and has the wire shape
 * `{"error": {"code", "message"}}`, its status from the protocol's one table.
 * Only ApiError messages (safe by contract) and messages written here reach a
 * client; anything unknown is a generic 500 with the detail in the log.
 */

/** Told about every error answer, e.g. so metrics can count sheds. */
export type ErrorAnswerListener = (request: FastifyRequest, error: ApiError) => void;

export function toApiError(err: unknown): ApiError {
  if (isApiError(err)) return err;
  if (err instanceof z.core.$ZodError) return fromZod(err);
  if (err instanceof StoreError) return storeErrorToApi(err);
  if (isFastifyError(err)) return fromFastify(err);
  return new ApiError("internal_error", "internal error");
}

function fromZod(err: z.core.$ZodError): ApiError {
  const issue = err.issues[0];
  const field = issue?.path.map(String).join(".") || "input";
  return new ApiError("bad_request", `invalid ${field}: ${issue?.message ?? "invalid value"}`);
}

function isFastifyError(err: unknown): err is FastifyError {
  return err instanceof Error && ("validation" in err || "statusCode" in err || "code" in err);
}

function fromFastify(err: FastifyError): ApiError {
  const first = err.validation?.[0];
  if (first) {
    // Name the field: context, JSON pointer path, then the missing or unknown property.
    const path = first.instancePath
      .split("/")
      .filter(Boolean)
      .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
    const extra = first.params.missingProperty ?? first.params.additionalProperty;
    const field = [err.validationContext ?? "body", ...path, ...(typeof extra === "string" ? [extra] : [])].join(".");
    return new ApiError("bad_request", `invalid ${field}: ${first.message ?? "invalid value"}`);
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("payload_too_large", "request body too large", { reason: BODY_SIZE_REASON });
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      // The parser's own message quotes the input: not echoed.
      return new ApiError("bad_request", "request body is not valid JSON");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      // No 415 in the wire table: an unsupported media type is a bad request.
      return new ApiError("bad_request", "unsupported Content-Type");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new ApiError("bad_request", "request body length does not match Content-Length");
    case "FST_ERR_BAD_URL":
      return new ApiError("bad_request", "malformed request path");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ApiError("bad_request", "path parameter too long");
  }
  // Other client errors fastify (or a plugin) raised: their status class, a generic message.
  const status = err.statusCode ?? 500;
  if (status === 404) return new ApiError("not_found", "not found");
  if (status === 413) return new ApiError("payload_too_large", "request body too large", { reason: BODY_SIZE_REASON });
  if (status >= 400 && status < 500) return new ApiError("bad_request", "bad request");
  return new ApiError("internal_error", "internal error");
}

/** Sends an ApiError in the wire shape, with its headers. */
export function sendApiError(request: FastifyRequest, reply: FastifyReply, error: ApiError): FastifyReply {
  // Refused before the body was read: close rather than drain a body of unknown size.
  if (request.raw.complete === false) reply.header("connection", "close");
  return reply.code(error.status).headers(error.headers).send(error.toBody());
}

export function installErrorHandling(app: FastifyInstance, onAnswer?: ErrorAnswerListener): void {
  app.setErrorHandler((err, request, reply) => {
    const answer = toApiError(err);
    if (answer.code === "internal_error") {
      // The full detail, with the request id from the request's logger bindings.
      request.log.error({ err }, "request failed");
    } else if (answer.code === "unavailable" && answer.cause !== undefined) {
      // A dependency that could not answer: its error (bucket, subject, server) is for operators.
      request.log.warn({ err: answer.cause }, "request refused: dependency unavailable");
    } else {
      request.log.info({ code: answer.code, reason: answer.reason }, "request refused");
    }
    onAnswer?.(request, answer);
    return sendApiError(request, reply, answer);
  });
  app.setNotFoundHandler((request, reply) => sendApiError(request, reply, new ApiError("not_found", "no such route")));
}

/** fastify's `frameworkErrors`: a URL the router cannot even parse. */
export function answerFrameworkError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Routing failed, so no onRequest hook ran: the request id is echoed here.
  reply.header(REQUEST_ID_HEADER, request.id);
  sendApiError(request, reply, toApiError(err));
}

/**
 * fastify's `clientErrorHandler`: Node could not parse the request (malformed,
 * headers too large, headers or body too slow). There is no request object, so
 * the wire-shaped answer is written straight to the socket, which is then closed.
 */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const message =
    err.code === "HPE_HEADER_OVERFLOW"
      ? "request headers too large"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? "request not received in time"
        : "malformed request";
  const error = new ApiError("bad_request", message);
  const body = JSON.stringify(error.toBody());
  // A response already under way on this socket must not be interleaved with ours.
  const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !pending?.headersSent) {
    socket.write(
      `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ""}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
